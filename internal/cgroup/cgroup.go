package cgroup

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Driver is how cgroups are managed on this node.
type Driver int

const (
	// Cgroupfs means runc writes the cgroup filesystem itself.
	Cgroupfs Driver = iota
	// Systemd means runc asks systemd for a scope per container.
	Systemd
)

// scopePrefix names Berth's scopes ("berth-<id>.scope"), as
// "cri-containerd" names containerd's.
const scopePrefix = "berth"

// defaultSlice holds the pods that have no cgroup parent (crictl's), as
// runc's systemd driver places a container without one.
const defaultSlice = "system.slice"

// cgroupfsRoot holds the pods that have no cgroup parent with the
// cgroupfs driver.
const cgroupfsRoot = "/berth"

// Resolve is the driver for the cgroup_driver setting: "systemd",
// "cgroupfs", or "auto", which is systemd when systemd runs as PID 1 (as
// kubelet's kubeadm default expects).
func Resolve(setting string, systemdIsInit bool) Driver {
	if setting == "systemd" || (setting == "auto" && systemdIsInit) {
		return Systemd
	}
	return Cgroupfs
}

// CRI is the driver as RuntimeConfig reports it to kubelet.
func (d Driver) CRI() runtimeapi.CgroupDriver {
	if d == Systemd {
		return runtimeapi.CgroupDriver_SYSTEMD
	}
	return runtimeapi.CgroupDriver_CGROUPFS
}

func (d Driver) String() string {
	if d == Systemd {
		return "systemd"
	}
	return "cgroupfs"
}

// Path is the OCI cgroupsPath of the sandbox or container id in a pod
// whose cgroup parent (from kubelet) is parent. With the systemd driver
// the parent must be a slice, given as its name or as its path
// (kubelet sends /kubepods.slice/kubepods-burstable.slice/...-pod<UID>.slice):
// anything else is errdefs.ErrInvalidArgument, because runc would put the
// scope somewhere kubelet does not look.
func (d Driver) Path(parent, id string) (string, error) {
	if d != Systemd {
		if parent == "" {
			parent = cgroupfsRoot
		}
		return filepath.Join(parent, id), nil
	}
	if err := d.CheckParent(parent); err != nil {
		return "", err
	}
	slice := defaultSlice
	if parent != "" {
		slice = path.Base(parent)
	}
	return slice + ":" + scopePrefix + ":" + id, nil
}

// CheckParent refuses a pod's cgroup parent (from kubelet) that would put
// its cgroups anywhere but below the hierarchies' root where kubelet looks
// (errdefs.ErrInvalidArgument): a relative path, a path that climbs with
// "..", a NUL; and with systemd, one that is not a slice, given by its name
// ("kubepods-burstable-pod<UID>.slice") or its path. runc cleans the rest
// ("//", a trailing "/"), as filepath.Join does in Path.
func (d Driver) CheckParent(parent string) error {
	if parent == "" {
		return nil
	}
	if strings.ContainsRune(parent, 0) {
		return fmt.Errorf("cgroup parent %q has a NUL: %w", parent, errdefs.ErrInvalidArgument)
	}
	if d != Systemd || strings.Contains(parent, "/") {
		if !path.IsAbs(parent) {
			return fmt.Errorf("cgroup parent %q is not an absolute path: %w", parent, errdefs.ErrInvalidArgument)
		}
		for _, elem := range strings.Split(parent, "/") {
			if elem == ".." {
				return fmt.Errorf("cgroup parent %q climbs with '..': %w", parent, errdefs.ErrInvalidArgument)
			}
		}
	}
	if d != Systemd {
		return nil
	}
	if _, err := ExpandSlice(path.Base(parent)); err != nil {
		return fmt.Errorf("cgroup parent %q with the systemd cgroup driver: %w", parent, err)
	}
	return nil
}

// ParentDir is the directory, below each hierarchy's root, of a pod's
// cgroup parent: kubelet's pod cgroup.
func (d Driver) ParentDir(parent string) (string, error) {
	if d != Systemd || parent == "" {
		return parent, nil
	}
	return ExpandSlice(path.Base(parent))
}

// Dir is the directory, below each hierarchy's root, of the cgroup that
// the OCI cgroupsPath p names in either driver's form.
func Dir(p string) (string, error) {
	slice, rest, ok := strings.Cut(p, ":")
	if !ok {
		return p, nil // cgroupfs: the path itself
	}
	prefix, name, ok := strings.Cut(rest, ":")
	if !ok || name == "" || strings.Contains(name, ":") {
		return "", fmt.Errorf("cgroupsPath %q is neither a path nor slice:prefix:name: %w", p, errdefs.ErrInvalidArgument)
	}
	dir, err := ExpandSlice(slice)
	if err != nil {
		return "", err
	}
	unit := name + ".scope"
	if prefix != "" {
		unit = prefix + "-" + unit
	}
	return path.Join(dir, unit), nil
}

// ExpandSlice is the directory of a systemd slice: each dash starts a
// child of the slice named by what precedes it, so a-b-c.slice is
// /a.slice/a-b.slice/a-b-c.slice. "-.slice" is the root.
func ExpandSlice(slice string) (string, error) {
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || name == "" || strings.Contains(slice, "/") {
		return "", fmt.Errorf("%q is not a systemd slice name: %w", slice, errdefs.ErrInvalidArgument)
	}
	if name == "-" {
		return "/", nil
	}
	dir, prefix := "", ""
	for _, part := range strings.Split(name, "-") {
		if part == "" {
			return "", fmt.Errorf("%q is not a systemd slice name (empty part between dashes): %w", slice, errdefs.ErrInvalidArgument)
		}
		dir += "/" + prefix + part + ".slice"
		prefix += part + "-"
	}
	return dir, nil
}
