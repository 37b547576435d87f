// Package cri is Berth's gRPC edge: it serves the CRI RuntimeService and
// ImageService on a unix socket. One interceptor chain does, for every RPC,
// the readiness gate, request IDs and the containerd namespace in the
// context, logging, metrics, panic recovery and the one conversion of error
// classes (github.com/containerd/errdefs) into gRPC codes.
//
// Handlers live one per file, named <resource>_<verb>.go. They translate
// CRI requests into calls on sandbox, container, images and runtime/,
// which own the state and the containerd side; this package owns no state
// of its own beyond readiness, and never talks to containerd but for the
// health that Status reports.
package cri
