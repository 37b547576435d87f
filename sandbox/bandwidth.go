package sandbox

import (
	"fmt"
	"math"

	"github.com/containerd/errdefs"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-cri/berth/cni"
)

// kubelet asks for traffic shaping with these pod annotations, as
// Kubernetes quantities in bits per second ("10M"); the CNI bandwidth
// plugin applies them when the network config includes it.
const (
	annotationIngressBandwidth = "kubernetes.io/ingress-bandwidth"
	annotationEgressBandwidth  = "kubernetes.io/egress-bandwidth"
)

var (
	minBandwidth = resource.MustParse("1k")
	maxBandwidth = resource.MustParse("1P")
)

// bandwidthCapability turns the annotations into the "bandwidth" capability
// (nil when neither is set). The burst is as large as the plugin allows, as
// containerd does: kubelet has no way to ask for one.
func bandwidthCapability(annotations map[string]string) (*cni.Bandwidth, error) {
	ingress, err := bandwidth(annotations, annotationIngressBandwidth)
	if err != nil {
		return nil, err
	}
	egress, err := bandwidth(annotations, annotationEgressBandwidth)
	if err != nil {
		return nil, err
	}
	if ingress == 0 && egress == 0 {
		return nil, nil
	}
	bw := &cni.Bandwidth{}
	if ingress > 0 {
		bw.IngressRate, bw.IngressBurst = ingress, math.MaxUint32
	}
	if egress > 0 {
		bw.EgressRate, bw.EgressBurst = egress, math.MaxUint32
	}
	return bw, nil
}

func bandwidth(annotations map[string]string, key string) (uint64, error) {
	value, ok := annotations[key]
	if !ok {
		return 0, nil
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return 0, fmt.Errorf("annotation %s=%q: %v: %w", key, value, err, errdefs.ErrInvalidArgument)
	}
	if q.Cmp(minBandwidth) < 0 || q.Cmp(maxBandwidth) > 0 {
		return 0, fmt.Errorf("annotation %s=%q: must be between 1k and 1P bits per second: %w", key, value, errdefs.ErrInvalidArgument)
	}
	return uint64(q.Value()), nil
}
