package sandbox

import (
	"math"
	"testing"

	"github.com/containerd/errdefs"
)

func TestBandwidthCapability(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		annotations          map[string]string
		wantIngress, wantEgr uint64
		wantNil, wantInvalid bool
	}{
		{name: "none", annotations: map[string]string{"other": "x"}, wantNil: true},
		{name: "ingress only", annotations: map[string]string{annotationIngressBandwidth: "10M"}, wantIngress: 10_000_000},
		{name: "both", annotations: map[string]string{annotationIngressBandwidth: "1Mi", annotationEgressBandwidth: "500k"}, wantIngress: 1 << 20, wantEgr: 500_000},
		{name: "not a quantity", annotations: map[string]string{annotationEgressBandwidth: "fast"}, wantInvalid: true},
		{name: "too small", annotations: map[string]string{annotationIngressBandwidth: "10"}, wantInvalid: true},
		{name: "too large", annotations: map[string]string{annotationIngressBandwidth: "2P"}, wantInvalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bw, err := bandwidthCapability(tc.annotations)
			if tc.wantInvalid {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("want InvalidArgument, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantNil {
				if bw != nil {
					t.Fatalf("no annotation must give no capability, got %+v", bw)
				}
				return
			}
			if bw.IngressRate != tc.wantIngress || bw.EgressRate != tc.wantEgr {
				t.Fatalf("rates %d/%d, want %d/%d", bw.IngressRate, bw.EgressRate, tc.wantIngress, tc.wantEgr)
			}
			if tc.wantIngress > 0 && bw.IngressBurst != math.MaxUint32 {
				t.Fatalf("ingress burst %d", bw.IngressBurst)
			}
			if tc.wantEgr == 0 && bw.EgressBurst != 0 {
				t.Fatalf("egress burst without egress rate: %d", bw.EgressBurst)
			}
		})
	}
}
