//go:build !linux

package container

// oomKilled needs Linux cgroups; elsewhere no exit is an OOM kill.
func oomAtExit(*Container, int32) bool { return false }

func parentOOMKills(string) (uint64, bool) { return 0, false }
