// Package lifecycle carries pod sandbox and container lifecycle events
// from where Berth changes their state to the CRI event streams kubelet's
// evented PLEG reads. Events are published after the change is recorded,
// so a subscriber that reads the store sees at least that change.
package lifecycle
