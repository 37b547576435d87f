// Package procsig signals a task's process directly from berthd, through
// a pidfd, instead of a runc run per signal. containerd's Kill has the
// shim start `runc kill`, a Go binary whose start-up costs more than the
// signal itself, on every StopContainer and StopPodSandbox.
//
// It owns only the identity check that makes a direct signal safe. A
// Process is a PID and the start time read right after the process
// started; a signal goes out only through a pidfd whose process still has
// that start time, as runc checks before its kill. A recycled PID is never
// signalled: Signal answers ErrGone.
//
// Whether a direct signal is enough is the caller's decision: a shared PID
// namespace's SIGKILL must reach the whole cgroup, which runc's kill does.
// The zero Process makes every call answer errors.ErrUnsupported, and the
// caller then signals through containerd; callers keep it zero when the
// shortcut is off (berthd's [shortcuts] pidfd_signals = false).
package procsig
