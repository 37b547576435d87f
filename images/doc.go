// Package images is the containerd side of Berth's images: pulling
// (reference normalisation, registry hosts from hosts.toml, credentials,
// a progress watchdog, de-duplication of concurrent pulls) through
// containerd's transfer service, which fetches and unpacks inside
// containerd; removal, the built-in offline pause image, the usage of
// the image filesystem, and an in-memory index that answers List and
// Status without a round trip to containerd; importing and exporting
// image archives (docker-archive, OCI layout tars) through the transfer
// service, and the import of a preload directory at start.
//
// The index follows containerd's image store, changes made by others
// (ctr, nerdctl) included, through containerd's image events and a
// resync after each new subscription (watch.go), as containerd's CRI
// plugin does for its namespace.
//
// containerd's image store is the durable record. Every image is kept in
// it under its ID (the config digest, "sha256:..."), its repo tags and its
// repo digests, as containerd's own CRI plugin does, so the index can be
// rebuilt from it at start and the ID name alone keeps an image whose tags
// moved on.
//
// It does not speak CRI (package cri converts) and does not decide which
// image a container runs (that is the container code's job; it calls
// Resolve and Containerd).
package images
