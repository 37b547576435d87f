// Package streaming serves CRI Exec, Attach and PortForward sessions.
//
// The CRI RPCs only hand out single-use URLs (k8s.io/cri-streaming's
// request cache); the sessions themselves run over SPDY or WebSocket on a
// separate HTTP server, by default on 127.0.0.1 and an ephemeral port,
// which kubelet reaches and proxies to the API server. This package owns
// that server and the Runtime the library calls: exec processes in a
// container's task, attachment to its IO (through container), and
// TCP port forwarding dialled from inside the pod's network namespace.
// It does not own container state or the pod network.
package streaming
