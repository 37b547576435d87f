// Command berthd is Berth's daemon: a Kubernetes CRI runtime on containerd.
//
// main only runs the command that package app builds and turns its error
// into an exit status. Everything berthd does starts in app: the flags and
// the configuration file, the node's checks, the embedded containerd, and
// the parts that serve the CRI.
package main
