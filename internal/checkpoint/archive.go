package checkpoint

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The files of a container checkpoint, as checkpointctl names them.
const (
	ConfigDumpFile   = metadata.ConfigDumpFile
	SpecDumpFile     = metadata.SpecDumpFile
	StatusDumpFile   = metadata.StatusDumpFile
	CheckpointDir    = metadata.CheckpointDirectory
	RootFsDiffTar    = metadata.RootFsDiffTar
	DeletedFilesFile = metadata.DeletedFilesFile
	ContainerLogFile = "container.log"
	// inventoryImage is the CRIU image every dump writes first.
	inventoryImage = "inventory.img"
)

// IsArchiveRef reports whether a CreateContainer image names a checkpoint
// archive rather than an image. As in CRI-O, an archive is given by its
// absolute path; no image reference starts with a slash.
func IsArchiveRef(image string) bool { return strings.HasPrefix(image, "/") }

// ValidateLocation checks where CheckpointContainer is asked to write: an
// absolute path in an existing directory, and not itself a directory. An
// existing regular file there is replaced, as containerd does.
func ValidateLocation(location string) error {
	if location == "" {
		return fmt.Errorf("checkpoint location is empty: %w", errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(location) {
		return fmt.Errorf("checkpoint location %q is not an absolute path: %w", location, errdefs.ErrInvalidArgument)
	}
	if filepath.Clean(location) != location || strings.HasSuffix(location, "/") {
		return fmt.Errorf("checkpoint location %q is not a clean file path: %w", location, errdefs.ErrInvalidArgument)
	}
	dir, err := os.Stat(filepath.Dir(location))
	if err != nil {
		return fmt.Errorf("checkpoint location %q: directory: %w: %w", location, err, errdefs.ErrInvalidArgument)
	}
	if !dir.IsDir() {
		return fmt.Errorf("checkpoint location %q: %s is not a directory: %w", location, filepath.Dir(location), errdefs.ErrInvalidArgument)
	}
	if fi, err := os.Lstat(location); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("checkpoint location %q exists and is not a regular file: %w", location, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Metadata is what a checkpoint says about the container it holds.
type Metadata struct {
	Config metadata.ContainerConfig
	Spec   *specs.Spec
	// Status is the CRI ContainerStatus at checkpoint time, as JSON; nil
	// when the archive has none.
	Status json.RawMessage
}

// WriteMetadata writes config.dump, spec.dump and status.dump into dir.
func WriteMetadata(dir string, md Metadata) error {
	if _, err := metadata.WriteJSONFile(md.Config, dir, ConfigDumpFile); err != nil {
		return err
	}
	if md.Spec != nil {
		if _, err := metadata.WriteJSONFile(md.Spec, dir, SpecDumpFile); err != nil {
			return err
		}
	}
	if md.Status != nil {
		if err := os.WriteFile(filepath.Join(dir, StatusDumpFile), md.Status, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ReadMetadata reads an unpacked checkpoint: config.dump and spec.dump must
// be there, and the CRIU images with them; InvalidArgument otherwise, since
// the archive came from the caller.
func ReadMetadata(dir string) (Metadata, error) {
	var md Metadata
	cfg, _, err := metadata.ReadContainerCheckpointConfigDump(dir)
	if err != nil {
		return md, fmt.Errorf("not a container checkpoint: %s: %w: %w", ConfigDumpFile, err, errdefs.ErrInvalidArgument)
	}
	md.Config = *cfg
	md.Spec, _, err = metadata.ReadContainerCheckpointSpecDump(dir)
	if err != nil {
		return md, fmt.Errorf("not a container checkpoint: %s: %w: %w", SpecDumpFile, err, errdefs.ErrInvalidArgument)
	}
	if status, err := os.ReadFile(filepath.Join(dir, StatusDumpFile)); err == nil {
		md.Status = status
	}
	fi, err := os.Lstat(filepath.Join(dir, CheckpointDir, inventoryImage))
	return md, validate(md, err == nil && fi.Mode().IsRegular())
}

// maxMetadataSize bounds config.dump, spec.dump and status.dump read from
// an archive: a spec is kilobytes.
const maxMetadataSize = 4 << 20

// Inspect reads a checkpoint archive's metadata without unpacking it, to
// refuse a bad archive before anything is created for it. A missing
// archive is NotFound; anything else wrong with it InvalidArgument.
func Inspect(archive string) (Metadata, error) {
	var md Metadata
	f, err := os.Open(archive)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return md, fmt.Errorf("checkpoint archive %s: %w", archive, errdefs.ErrNotFound)
		}
		return md, fmt.Errorf("checkpoint archive %s: %w", archive, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return md, fmt.Errorf("checkpoint archive %s is not a regular file: %w", archive, errdefs.ErrInvalidArgument)
	}
	var haveConfig, haveInventory bool
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return md, fmt.Errorf("checkpoint archive %s: not a tar archive: %w: %w", archive, err, errdefs.ErrInvalidArgument)
		}
		var into any
		switch path.Clean(strings.TrimPrefix(hdr.Name, "./")) {
		case ConfigDumpFile:
			into, haveConfig = &md.Config, true
		case SpecDumpFile:
			into = &md.Spec
		case StatusDumpFile:
			into = &md.Status
		case path.Join(CheckpointDir, inventoryImage):
			haveInventory = hdr.Typeflag == tar.TypeReg
			continue
		default:
			continue
		}
		if err := json.NewDecoder(io.LimitReader(tr, maxMetadataSize)).Decode(into); err != nil {
			return md, fmt.Errorf("checkpoint archive %s: %s: %w: %w", archive, hdr.Name, err, errdefs.ErrInvalidArgument)
		}
	}
	if !haveConfig {
		return md, fmt.Errorf("checkpoint archive %s: not a container checkpoint: no %s: %w", archive, ConfigDumpFile, errdefs.ErrInvalidArgument)
	}
	if err := validate(md, haveInventory); err != nil {
		return md, fmt.Errorf("checkpoint archive %s: %w", archive, err)
	}
	return md, nil
}

// validate checks that a checkpoint can be restored from: it names its
// image and its process, and holds CRIU's images.
func validate(md Metadata, haveInventory bool) error {
	switch {
	case md.Spec == nil:
		return fmt.Errorf("not a container checkpoint: no %s: %w", SpecDumpFile, errdefs.ErrInvalidArgument)
	case md.Spec.Process == nil || len(md.Spec.Process.Args) == 0:
		return fmt.Errorf("not a container checkpoint: %s has no process: %w", SpecDumpFile, errdefs.ErrInvalidArgument)
	case md.Config.RootfsImageRef == "" && md.Config.RootfsImage == "" && md.Config.RootfsImageName == "":
		return fmt.Errorf("not a container checkpoint: %s names no image: %w", ConfigDumpFile, errdefs.ErrInvalidArgument)
	case !haveInventory:
		return fmt.Errorf("not a container checkpoint: no CRIU images (%s/%s): %w", CheckpointDir, inventoryImage, errdefs.ErrInvalidArgument)
	}
	return nil
}

// WriteArchive packs dir into an uncompressed tar at location. It writes a
// temporary file beside location and renames it into place, so a reader
// never sees half an archive and a failure leaves nothing at location.
func WriteArchive(dir, location string) (retErr error) {
	tmp, err := os.CreateTemp(filepath.Dir(location), "."+filepath.Base(location)+".tmp-")
	if err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	defer func() {
		if retErr != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := writeTar(tmp, dir); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), location); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	return nil
}

// WriteArchiveIn writes dir as an archive at name below root, a new file
// (see WriteArchive); name cannot leave root, whatever it holds.
func WriteArchiveIn(root *os.Root, name, dir string) (retErr error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			_ = root.Remove(name) // no half-written archive; retErr is what the caller hears
		}
	}()
	if err := writeTar(f, dir); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	return nil
}

// writeTar writes dir's directories and regular files, in lexical order;
// anything else (a symlink, a socket) has no place in a checkpoint.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file or directory", rel)
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p) //nolint:gosec // G122: the walk is of a checkpoint directory berthd and criu just wrote
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// ExtractArchive unpacks the archive at src into the existing directory dst,
// once its files' sizes, read from its headers, fit in dst's free space
// (errdefs.ErrResourceExhausted otherwise).
// Only directories and regular files are accepted, and every entry is
// opened through an os.Root on dst, so "..", absolute names and symlinks
// cannot reach outside it. A malformed archive is InvalidArgument.
func ExtractArchive(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checkpoint archive %s: %w", src, errdefs.ErrNotFound)
		}
		return fmt.Errorf("checkpoint archive %s: %w", src, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("checkpoint archive %s is not a regular file: %w", src, errdefs.ErrInvalidArgument)
	}
	// CRIU's images are as large as the container's memory: they must fit
	// before the first byte is written.
	size, err := unpackedSize(f)
	if err != nil {
		return fmt.Errorf("checkpoint archive %s: %w", src, err)
	}
	if err := checkSpace(dst, size); err != nil {
		return fmt.Errorf("checkpoint archive %s: %w", src, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := untar(f, root); err != nil {
		return fmt.Errorf("checkpoint archive %s: %w", src, err)
	}
	return nil
}

func untar(r io.Reader, root *os.Root) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not a tar archive: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("entry %q leaves the archive: %w", hdr.Name, errdefs.ErrInvalidArgument)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if dir := path.Dir(name); dir != "." {
				if err := root.MkdirAll(dir, 0o700); err != nil {
					return fmt.Errorf("entry %q: %w", hdr.Name, err)
				}
			}
			out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			// Uncompressed entries: what is written is no more than the
			// archive holds, beneath the restore root.
			_, err = io.Copy(out, tr) //nolint:gosec // G110: a tar, not a compressed stream
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		default:
			return fmt.Errorf("entry %q is neither a file nor a directory: %w", hdr.Name, errdefs.ErrInvalidArgument)
		}
	}
}

// DeletedFiles lists the paths an OCI layer deletes: its whiteouts, without
// the ".wh." marker. checkpointctl shows them as deleted.files; the layer's
// own whiteouts already delete them when it is applied.
func DeletedFiles(layer io.Reader) ([]string, error) {
	const whiteout, opaque = ".wh.", ".wh..wh..opq"
	var deleted []string
	tr := tar.NewReader(layer)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean("/" + hdr.Name)
		base := path.Base(name)
		if base == opaque || !strings.HasPrefix(base, whiteout) {
			continue
		}
		deleted = append(deleted, path.Join(path.Dir(name), strings.TrimPrefix(base, whiteout)))
	}
	sort.Strings(deleted)
	return deleted, nil
}
