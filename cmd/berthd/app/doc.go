// Package app is berthd's command line and its start-up and shutdown.
//
// Options resolve the flags and the configuration file into one
// config.Config (Complete), check it (Validate), and run the daemon (Run).
// Run is the one place that builds Berth's parts and hands them to each
// other: it reads the node's facts once (host.Detect) and gives each part
// the facts and settings it needs. No other package reads the
// configuration or detects a node fact.
//
// Run's order is the contract kubelet sees: the CRI socket answers only
// Version, Status and RuntimeConfig until recovery from containerd has
// finished, then everything. On SIGTERM it stops serving, lets calls in
// flight finish, waits for background cleanups, and stops the embedded
// containerd; pods keep running in their shims. On the upgrade signal it
// hands the socket and containerd to the next berthd instead (reexec.go).
package app
