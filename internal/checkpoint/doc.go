// Package checkpoint owns a container checkpoint at rest and the question
// whether CRIU can make one on this node.
//
// The archive is the layout checkpointctl reads and CRI-O and containerd's
// CRI write: an uncompressed tar holding config.dump (checkpointctl's
// ContainerConfig), spec.dump (the OCI spec), status.dump (the CRI
// ContainerStatus), checkpoint/ (CRIU's images), rootfs-diff.tar (the
// writable layer's changes, deletions as OCI whiteouts), deleted.files and
// container.log. Archives are written to a temporary file beside the
// requested location and renamed into place, so a failed checkpoint leaves
// nothing there; they are unpacked through an os.Root, so an entry cannot
// land outside the directory it is unpacked into.
//
// It does not talk to containerd or runc: container drives the
// task's checkpoint and hands this package the directory to archive.
package checkpoint
