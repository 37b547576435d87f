// Package seccomp owns the seccomp side of a container's security context:
// which profile a CRI request means (the SecurityProfile field, or the
// deprecated seccomp_profile_path strings), reading Localhost profiles from
// inside the node's profile root and nowhere else, and turning a profile
// into the OCI spec's LinuxSeccomp for the container's capabilities.
//
// RuntimeDefault is the default profile of github.com/moby/profiles (the
// one Docker and containerd ship), so Berth follows its upstream fixes
// rather than carrying a copy.
//
// It does not decide capabilities, masked paths or any other part of the
// spec. Its options read the capabilities the spec already has (the
// default profile allows some syscalls only to holders of a capability),
// so they must be applied after the capability options.
package seccomp
