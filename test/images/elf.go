package images

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path"
	"strings"
)

// libDirs are where Debian's amd64 loader looks for libraries when there is
// no ld.so.cache, which is the case in our images.
var libDirs = []string{
	"lib/x86_64-linux-gnu",
	"usr/lib/x86_64-linux-gnu",
	"lib",
	"usr/lib",
}

// CopyWithLibs copies the ELF program at bin from src to dst, together with
// its program interpreter and every shared library it needs, transitively,
// found in libs. Libraries keep their paths, so the loader finds them
// without configuration.
func CopyWithLibs(dst, src *Tree, bin string, libs *Tree) error {
	if err := dst.CopyFrom(src, bin); err != nil {
		return err
	}
	data, err := src.ReadFile(bin)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	return copyNeeded(dst, libs, bin, data, seen)
}

func copyNeeded(dst, libs *Tree, name string, data []byte, seen map[string]bool) error {
	interp, needed, err := elfDeps(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var paths []string
	if interp != "" {
		paths = append(paths, interp)
	}
	for _, lib := range needed {
		p, err := findLib(libs, lib)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", name, lib, err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		if err := dst.CopyFrom(libs, p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		libData, err := libs.ReadFile(p)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := copyNeeded(dst, libs, p, libData, seen); err != nil {
			return err
		}
	}
	return nil
}

// elfDeps returns the program interpreter (empty for static programs and
// for libraries) and the DT_NEEDED entries of an ELF file.
func elfDeps(data []byte) (interp string, needed []string, err error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return "", nil, fmt.Errorf("not an ELF file: %w", err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(b, 0); err != nil {
			return "", nil, fmt.Errorf("reading PT_INTERP: %w", err)
		}
		interp = strings.TrimRight(string(b), "\x00")
	}
	needed, err = f.ImportedLibraries()
	if err != nil {
		return "", nil, fmt.Errorf("reading DT_NEEDED: %w", err)
	}
	return interp, needed, nil
}

func findLib(libs *Tree, name string) (string, error) {
	for _, dir := range libDirs {
		p := path.Join(dir, name)
		if _, ok := libs.lookup(p); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", libDirs)
}
