package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
)

// attachment is Berth's record of one sandbox's CNI attachment: everything
// DEL needs, saved before ADD runs.
type attachment struct {
	Version      int             `json:"version"`
	ID           string          `json:"id"`
	IfName       string          `json:"ifName"`
	NetNS        string          `json:"netns"`
	Network      string          `json:"network"`
	ConfFile     string          `json:"confFile"`
	Config       json.RawMessage `json:"config"` // self-contained conflist
	Args         [][2]string     `json:"args"`
	Capabilities map[string]any  `json:"capabilities,omitempty"`
}

const attachmentVersion = 1

// attachmentStore keeps one JSON file per sandbox ID.
type attachmentStore struct {
	dir string
}

func (s attachmentStore) path(id string) string {
	return filepath.Join(s.dir, id+".json")
}

// save writes the record so that a crash leaves either the old file, the
// new one, or none: never a torn one that would make DEL impossible.
func (s attachmentStore) save(a attachment) (retErr error) {
	a.Version = attachmentVersion
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode attachment record: %w", err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create attachment dir: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-"+a.ID+"-*")
	if err != nil {
		return fmt.Errorf("write attachment record: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(a.ID))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("write attachment record: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// load returns errdefs.ErrNotFound when there is no record.
func (s attachmentStore) load(id string) (attachment, error) {
	var a attachment
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return a, fmt.Errorf("no CNI attachment recorded for sandbox %s: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("read attachment record: %w", err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("attachment record %s is corrupt (remove it to give up on its DEL): %w", s.path(id), err)
	}
	if a.Version != attachmentVersion {
		return a, fmt.Errorf("attachment record %s has unknown version %d", s.path(id), a.Version)
	}
	return a, nil
}

func (s attachmentStore) exists(id string) bool {
	_, err := os.Stat(s.path(id))
	return err == nil
}

func (s attachmentStore) remove(id string) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove attachment record: %w", err)
	}
	return nil
}

// ids lists the sandbox IDs that have a record.
func (s attachmentStore) ids() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list attachment records: %w", err)
	}
	var ids []string
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && !e.IsDir() && validID.MatchString(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
