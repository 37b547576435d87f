// Package selinux passes a container's CRI SELinux options into its spec as
// the process label, and does so only on nodes where SELinux is enforcing:
// elsewhere a label would make runc fail for nothing. It does not label
// files or mounts, pick per-pod MCS categories or read the loaded policy;
// fields the pod leaves empty take the container-selinux policy's usual
// values.
package selinux
