//go:build !linux

package sandbox

import (
	"errors"

	"github.com/berth-cri/berth/internal/procsig"
)

// The sandbox pool needs Linux's cgroups and namespaces.

type cgroupHierarchy struct{ mountpoint string }

func cgroupV1Hierarchies() ([]cgroupHierarchy, error) { return nil, nil }

func setHostname(procsig.Process, string) error { return errors.ErrUnsupported }

func moveCgroup([]cgroupHierarchy, procsig.Process, string, string) error {
	return errors.ErrUnsupported
}

func removeCgroup([]cgroupHierarchy, string) error { return nil }

func retargetRuncState(string, string, string) error { return errors.ErrUnsupported }

func killLeftShim(string) bool { return false }

func removeEmptyCgroup([]cgroupHierarchy, string) {}

func cpuHierarchy([]cgroupHierarchy) *cgroupHierarchy { return nil }

func preparePoolCgroups(cgroupHierarchy, bool) error { return errors.ErrUnsupported }

func setCPUIdle(string, bool) error { return errors.ErrUnsupported }

func containerdCPUCgroup(uint64, uint64) (string, error) { return "", errors.ErrUnsupported }

func moveShimHome(cgroupHierarchy, procsig.Process, string, string) error {
	return errors.ErrUnsupported
}
