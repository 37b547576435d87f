// Package stats measures containers and pods for the CRI stats RPCs:
// CPU and memory from their cgroups (v1 or v2), processes from the pids
// controller, the writable layer from the snapshotter, and pod network
// counters from the pod's network namespace. A cgroup is found from the
// cgroupsPath runc was given, in either cgroup driver's form
// (internal/cgroup.Dir), and a pod's from kubelet's cgroup parent.
//
// kubelet polls every few seconds (summary API, eviction, the cAdvisor
// metrics endpoint) and a node may run hundreds of containers
// (containerd#7246, cri-dockerd#135), so every measurement is cached for
// about a second and a writable layer, which has to be walked, for longer.
// CPU usage in nano cores is the rate between the last two samples of the
// same cgroup.
//
// The metrics RPCs (ListMetricDescriptors, ListPodSandboxMetrics) carry
// what kubelet shows at /metrics/cadvisor under the PodAndContainerStatsFromCRI
// gate: cAdvisor's metric names and labels, from a fuller read of each
// container's cgroup (cached the same way), its processes' open files, the
// writable layer and its filesystem, the pod's interfaces and the
// container's resources. CRI metric values are unsigned integers, so
// seconds are whole seconds.
//
// The package reads state; it owns none of it.
package stats
