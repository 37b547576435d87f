package cni

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
)

// validID is libcni's rule for container IDs (utils.ValidateContainerID);
// checking it first also makes the ID safe as a file name in StateDir.
var validID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

func validateID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("sandbox ID %q is not a valid CNI container ID: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// cniArgs are the CNI_ARGS every Kubernetes runtime passes. IgnoreUnknown
// keeps plugins that do not know the K8S_ keys from failing on them.
func cniArgs(sn SandboxNetwork) ([][2]string, error) {
	args := [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", sn.PodNamespace},
		{"K8S_POD_NAME", sn.PodName},
		{"K8S_POD_INFRA_CONTAINER_ID", sn.ID},
		{"K8S_POD_UID", sn.PodUID},
	}
	for _, kv := range args {
		// CNI_ARGS is "K=V;K=V": these would split a value.
		if strings.ContainsAny(kv[1], ";=") {
			return nil, fmt.Errorf("%s %q cannot be passed in CNI_ARGS: %w", kv[0], kv[1], errdefs.ErrInvalidArgument)
		}
	}
	return args, nil
}

// capabilityArgs builds the runtimeConfig libcni hands to plugins that
// declare each capability. Empty ones are left out.
func capabilityArgs(sn SandboxNetwork) (map[string]any, error) {
	caps := map[string]any{}
	var ports []PortMapping
	for _, pm := range sn.PortMappings {
		if pm.HostPort == 0 {
			continue // a containerPort with no hostPort maps nothing
		}
		if pm.HostPort < 0 || pm.HostPort > 65535 || pm.ContainerPort <= 0 || pm.ContainerPort > 65535 {
			return nil, fmt.Errorf("port mapping %d->%d is out of range: %w", pm.HostPort, pm.ContainerPort, errdefs.ErrInvalidArgument)
		}
		proto := strings.ToLower(pm.Protocol)
		switch proto {
		case "":
			proto = "tcp"
		case "tcp", "udp", "sctp":
		default:
			return nil, fmt.Errorf("port mapping protocol %q: %w", pm.Protocol, errdefs.ErrInvalidArgument)
		}
		pm.Protocol = proto
		ports = append(ports, pm)
	}
	if len(ports) > 0 {
		caps["portMappings"] = ports
	}
	if sn.DNS != nil {
		caps["dns"] = *sn.DNS
	}
	if sn.Bandwidth != nil {
		caps["bandwidth"] = *sn.Bandwidth
	}
	if len(sn.IPRanges) > 0 {
		caps["ipRanges"] = sn.IPRanges
	}
	return caps, nil
}

// runtimeConf is the libcni view of a sandbox attachment.
func runtimeConf(id, netns, ifName string, args [][2]string, caps map[string]any) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID:    id,
		NetNS:          netns,
		IfName:         ifName,
		Args:           args,
		CapabilityArgs: caps,
	}
}
