package cni

import "golang.org/x/sys/unix"

// usableNetNS returns path if a network namespace is still pinned there,
// and "" otherwise: DEL with an empty CNI_NETNS is how runtimes tell
// plugins the namespace is gone (releasing IPs and host-side state still
// works; the pod side went with the namespace). A stale path would instead
// make plugins such as bridge fail DEL trying to enter it.
func usableNetNS(path string) string {
	if path == "" {
		return ""
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return ""
	}
	return path
}
