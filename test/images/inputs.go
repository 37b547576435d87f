package images

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Inputs are the files the images are made from.
type Inputs struct {
	// DebDir holds the busybox, libc6 and util-linux .deb files, as
	// apt-get download leaves them.
	DebDir string
	// BinDir holds this repository's static programs: berth-pause,
	// webserver, nnp and pgrep.
	BinDir string
	// Arch is the GOARCH the images are for; empty means the host's. It
	// must match the .debs and the programs.
	Arch string
}

// Programs are the static programs of this repository that the images
// carry, by their file name in BinDir.
var Programs = []string{"berth-pause", "webserver", "nnp", "pgrep"}

func (in Inputs) arch() string {
	if in.Arch != "" {
		return in.Arch
	}
	return runtime.GOARCH
}

// program returns one of Programs from BinDir. It refuses a dynamically
// linked build: the pause image has no libc to load it with.
func (in Inputs) program(name string) ([]byte, error) {
	p := filepath.Join(in.BinDir, name)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading program %s: %w", name, err)
	}
	interp, needed, err := elfDeps(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if interp != "" || len(needed) > 0 {
		return nil, fmt.Errorf("%s is dynamically linked (%s %v); build it with CGO_ENABLED=0", p, interp, needed)
	}
	return data, nil
}
