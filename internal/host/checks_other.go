//go:build !linux

package host

import "errors"

// Requirements lists what Check must find.
type Requirements struct {
	Binaries   []string
	SearchDirs []string
}

// Check fails: Berth runs Linux containers with runc on Linux nodes only.
func Check(Facts, Requirements) error { return errors.New("berthd runs only on Linux") }

// LookPath is Linux-only, like berthd.
func LookPath(name string, dirs ...string) (string, error) {
	return "", errors.New("berthd runs only on Linux")
}

// SetOOMScoreAdj is Linux-only.
func SetOOMScoreAdj(int) (int, error) { return 0, errors.New("berthd runs only on Linux") }

// SetMaxThreads is Linux-only.
func SetMaxThreads() (int, error) { return 0, errors.New("berthd runs only on Linux") }

// DumpStacks is Linux-only.
func DumpStacks(string) (string, error) { return "", errors.New("berthd runs only on Linux") }
