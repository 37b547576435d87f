// Package version holds what this build of Berth is and what it was built
// for. The Makefile sets these with -ldflags -X from hack/versions.env and
// git; the defaults mark an unstamped development build.
package version

var (
	// Version of Berth.
	Version = "0.1.0-dev"
	// Commit Berth was built from.
	Commit = "unknown"
)

// Containerd, Runc and CNIPlugins are the versions of the runtime stack
// this build was tested with (hack/versions.env).
var (
	Containerd = "unknown"
	Runc       = "unknown"
	CNIPlugins = "unknown"
)

// RuntimeName is what Berth reports as runtime_name to kubelet.
const RuntimeName = "berth"

// CRIAPIVersion is the CRI API Berth serves.
const CRIAPIVersion = "v1"
