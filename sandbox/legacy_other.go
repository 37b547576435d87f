//go:build !linux

package sandbox

func cgroupV1Hierarchies() ([]string, error) { return nil, nil }

func removeCgroup([]string, string) error { return nil }

func removeLegacyPoolCgroups([]string) error { return nil }
