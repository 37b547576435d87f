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
