// Package cgroup names the cgroups of Berth's pods and containers for the
// node's cgroup driver, the one fact about cgroup management that berthd
// decides once at start and that kubelet adopts from RuntimeConfig.
//
// With the cgroupfs driver a cgroupsPath is a directory below each
// hierarchy's root (kubelet's cgroup parent joined with the ID), and runc
// creates it. With the systemd driver it is runc's "slice:prefix:name"
// form, as containerd's CRI builds it: runc asks systemd for a transient
// scope "berth-<id>.scope" in the pod's slice, and the directory follows
// systemd's slice naming (kubepods-burstable-pod1.slice lives in
// kubepods.slice/kubepods-burstable.slice/). Dir maps either form to the
// directory, which is what the stats, OOM and update code read.
//
// The package does not create, read or remove cgroups.
package cgroup
