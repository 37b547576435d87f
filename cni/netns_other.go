//go:build !linux

package cni

// usableNetNS cannot tell a pinned namespace from a file off Linux, where
// sandboxes do not run; it passes the path through so the package builds.
func usableNetNS(path string) string { return path }
