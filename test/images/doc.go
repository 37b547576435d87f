// Package images builds the container images that Berth's tests and
// critest pull, without Docker and without a network.
//
// It owns the catalogue of those images (which names critest v1.37.0
// pulls and what each must contain to pass the checks made on it), the
// deterministic layer writer, and the writers of the OCI image layout and
// of the pause image archive that berthd imports at start.
//
// Every layer is a tar whose entries are sorted by path and carry a fixed
// mtime, uid/gid and no user or group names, gzip-compressed without a
// timestamp, so the same inputs give the same digests on every run. The
// inputs are Debian .deb files (busybox, libc6, util-linux) read with
// dpkg-deb, and static Go programs of this repository.
//
// It does not push images anywhere or talk to containerd:
// test/cmd/berth-registry serves the layout, and berthd imports the
// archive. Images that critest names by digest cannot be rebuilt and are
// not attempted; docs/test-images.md lists them.
package images
