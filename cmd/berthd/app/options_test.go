package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/berth-cri/berth/internal/config"
)

func complete(t *testing.T, file string, args ...string) config.Config {
	t.Helper()
	o := &Options{}
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	o.AddFlags(fs)
	path := filepath.Join(t.TempDir(), "config.toml")
	if file != "" {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(append([]string{"--config", path}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(fs); err != nil {
		t.Fatal(err)
	}
	return o.Config
}

func TestFlagsOverrideTheFileWhichOverridesDefaults(t *testing.T) {
	cfg := complete(t, "socket = \"/file.sock\"\nroot = \"/file-root\"\n", "--socket", "/flag.sock", "--cni-bin-dir", "/a,/b")
	if cfg.Socket != "/flag.sock" {
		t.Errorf("flag did not win over the file: %s", cfg.Socket)
	}
	if cfg.Root != "/file-root" {
		t.Errorf("an unset flag's default overrode the file: %s", cfg.Root)
	}
	if strings.Join(cfg.CNI.BinDirs, ",") != "/a,/b" {
		t.Errorf("cni bin dirs = %v", cfg.CNI.BinDirs)
	}
	if cfg.State != "/run/berth" {
		t.Errorf("default lost: %s", cfg.State)
	}
}

func TestNRIFlagsOverrideTheFile(t *testing.T) {
	cfg := complete(t, "[nri]\nsocket_path = \"/file/nri.sock\"\n", "--enable-nri", "--nri-socket", "/flag/nri.sock")
	if !cfg.NRI.Enable || cfg.NRI.SocketPath != "/flag/nri.sock" {
		t.Errorf("nri = %+v, want enabled on /flag/nri.sock", cfg.NRI)
	}
}

func TestEveryFlagHasAnOverride(t *testing.T) {
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	(&Options{}).AddFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if _, ok := flagOverrides[f.Name]; !ok && f.Name != "config" {
			t.Errorf("flag --%s is parsed but never applied", f.Name)
		}
	})
}

func TestConfigDefaultCommand(t *testing.T) {
	cmd := NewCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"config", "default"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "socket = '/run/berth/berth.sock'") {
		t.Fatalf("berthd config default:\n%s", out.String())
	}
}

// TestEveryFlagIsInTheConfigurationReference keeps docs/configuration.md
// naming each flag (internal/config/doc_test.go checks its keys and defaults).
func TestEveryFlagIsInTheConfigurationReference(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	(&Options{}).AddFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(string(doc), "`--"+f.Name+"`") {
			t.Errorf("docs/configuration.md does not mention --%s", f.Name)
		}
	})
}
