package cni

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
)

// confExtensions are the file names libcni's ConfFiles is asked for.
var confExtensions = []string{".conflist", ".conf", ".json"}

// network is a parsed network config.
type network struct {
	file string                    // where it came from, for messages
	list *libcni.NetworkConfigList // plugins inlined; list.Bytes is what ADD and DEL run
}

// confDir caches the parsed config of a directory, keyed by a hash of the
// files that can change it.
type confDir struct {
	dir         string
	fingerprint [sha256.Size]byte
	loaded      bool
	net         *network
	err         error
}

// current returns the directory's network, re-parsing only when the files
// changed since the last call. The caller serialises calls.
func (c *confDir) current() (*network, error) {
	fp, err := fingerprint(c.dir)
	if err != nil {
		return nil, fmt.Errorf("read network config dir %s: %w", c.dir, err)
	}
	if !c.loaded || fp != c.fingerprint {
		c.net, c.err = load(c.dir)
		c.fingerprint, c.loaded = fp, true
	}
	return c.net, c.err
}

// fingerprint hashes the names and contents of every file load may read:
// the config files, and the plugin files libcni loads from <dir>/<name>/.
// The files are small; reading them is cheaper than trusting mtimes whose
// granularity can hide a quick rewrite.
func fingerprint(dir string) ([sha256.Size]byte, error) {
	h := sha256.New()
	add := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			b = []byte("unreadable: " + err.Error())
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return [sha256.Size]byte{}, err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			if slices.Contains(confExtensions, filepath.Ext(e.Name())) {
				add(path)
			}
			continue
		}
		subs, _ := libcni.ConfFiles(path, []string{".conf"})
		for _, s := range subs {
			add(s)
		}
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// load picks the first file, in lexical order, that parses into a plugin
// chain. A broken file does not hide a good one after it; when none is
// good, the error names every file and why.
func load(dir string) (*network, error) {
	files, err := libcni.ConfFiles(dir, confExtensions)
	if err != nil {
		return nil, fmt.Errorf("read network config dir %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no network config found in %s: %w", dir, errdefs.ErrFailedPrecondition)
	}
	slices.Sort(files)
	var problems []string
	for _, f := range files {
		list, err := loadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", filepath.Base(f), err))
			continue
		}
		return &network{file: f, list: list}, nil
	}
	return nil, fmt.Errorf("no valid network config found in %s (%s): %w",
		dir, strings.Join(problems, "; "), errdefs.ErrFailedPrecondition)
}

func loadFile(path string) (*libcni.NetworkConfigList, error) {
	if filepath.Ext(path) == ".conflist" {
		list, err := libcni.NetworkConfFromFile(path)
		if err != nil {
			return nil, err
		}
		return inline(list)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	plugin, err := libcni.NetworkPluginConfFromBytes(b)
	if err != nil {
		return nil, err
	}
	return inline(&libcni.NetworkConfigList{
		Name:       plugin.Network.Name,
		CNIVersion: plugin.Network.CNIVersion,
		Plugins:    []*libcni.PluginConfig{plugin},
		Bytes:      []byte(`{}`),
	})
}

// inline rewrites a chain into one self-contained conflist: every plugin,
// including those libcni read from <dir>/<name>/*.conf, is in the bytes, and
// loadOnlyInlinedPlugins stops a re-parse from reading side files that may
// have changed. These bytes are what ADD runs and what DEL re-runs.
func inline(list *libcni.NetworkConfigList) (*libcni.NetworkConfigList, error) {
	if len(list.Plugins) == 0 {
		return nil, errors.New("no plugins")
	}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(list.Bytes, &raw); err != nil {
		return nil, err
	}
	plugins := make([]json.RawMessage, 0, len(list.Plugins))
	for _, p := range list.Plugins {
		plugins = append(plugins, json.RawMessage(bytes.TrimSpace(p.Bytes)))
	}
	var err error
	set := func(k string, v any) {
		if err == nil {
			raw[k], err = json.Marshal(v)
		}
	}
	set("name", list.Name)
	set("cniVersion", list.CNIVersion)
	set("plugins", plugins)
	set("loadOnlyInlinedPlugins", true)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return parseChain(b)
}

// parseChain parses self-contained conflist bytes, as written by inline.
func parseChain(b []byte) (*libcni.NetworkConfigList, error) {
	list, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return nil, err
	}
	if len(list.Plugins) == 0 {
		return nil, errors.New("no plugins")
	}
	return list, nil
}
