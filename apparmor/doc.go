// Package apparmor owns AppArmor for containers: what a CRI request means
// (the SecurityProfile field, or the deprecated apparmor_profile string),
// Berth's default profile "berth-default" (generated from a template and
// loaded with apparmor_parser the first time a container needs it), and
// checking that a Localhost profile is loaded before a container names it.
//
// On a kernel without AppArmor it applies nothing: RuntimeDefault and
// Unconfined are no-ops and Localhost fails with FailedPrecondition, since
// a profile the pod depends on cannot be honoured. A kernel that enforces
// AppArmor on a node without apparmor_parser counts as one without
// AppArmor, as containerd's HostSupports has it: berthd warns once at start
// and reports it in Status, and containers run unconfined rather than all
// fail to be created. It does not install or
// remove operators' profiles, and never unloads berth-default.
package apparmor
