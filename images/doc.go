// Package images is the containerd side of Berth's images. It owns pulls
// through containerd's transfer service, which fetches and unpacks inside
// containerd; removal; the built-in offline pause image; the usage of the
// image filesystem; importing and exporting archives (docker-archive, OCI
// layout tars), and the preload directory imported at start; and an
// in-memory index that answers List and Status without a round trip to
// containerd.
//
// A pull normalises the reference, reads the registry hosts from
// hosts.toml, answers the transfer service's requests for credentials,
// cancels a pull that makes no progress, and shares one run among
// concurrent pulls of one reference with one credential.
//
// containerd's image store is the durable record. Every image is kept in
// it under its ID (the config digest, "sha256:..."), its repo tags and its
// repo digests, as containerd's own CRI plugin does. So the index can be
// rebuilt from it at start, and the ID name alone keeps an image whose tags
// moved on.
//
// The index follows containerd's image store, changes made by others (ctr,
// nerdctl) included, through containerd's image events and a resync after
// each new subscription (watch.go), as containerd's CRI plugin does for
// its namespace.
//
// It does not speak CRI (package cri converts) and does not decide which
// image a container runs: package container does, and calls Resolve and
// Containerd.
package images
