// Package apparmor owns AppArmor for containers: what a CRI request means
// (the SecurityProfile field, or the deprecated apparmor_profile string),
// Berth's default profile "berth-default", and the check that a Localhost
// profile is loaded before a container names it.
//
// berth-default is generated from a template and loaded with
// apparmor_parser the first time a container needs it. It is never
// unloaded.
//
// On a kernel without AppArmor nothing is applied. RuntimeDefault and
// Unconfined are no-ops there. Localhost fails with FailedPrecondition,
// since a profile the pod depends on cannot be honoured.
//
// A kernel that enforces AppArmor on a node without apparmor_parser counts
// as one without AppArmor, as containerd's HostSupports has it. berthd
// warns once at start and reports it in Status; containers then run
// unconfined rather than all fail to be created.
//
// It does not install or remove operators' profiles.
package apparmor
