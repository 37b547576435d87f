package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/berth-cri/berth/internal/config"
)

// decode reads a manifest as the API server does with strict field
// validation (kubectl's default): field names are case-sensitive, and an
// unknown or duplicate field is an error, not silently dropped.
// sigs.k8s.io/yaml's own UnmarshalStrict would let `hostPid` pass for
// `hostPID`, as encoding/json matches names regardless of case.
func decode(t *testing.T, name string, obj any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	strict, err := json.UnmarshalStrict(js, obj)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, e := range strict {
		t.Errorf("%s: %v", name, e)
	}
	if len(strict) > 0 {
		t.FailNow()
	}
}

func manifests(t *testing.T) (*corev1.Namespace, *corev1.ConfigMap, *appsv1.DaemonSet) {
	t.Helper()
	var ns corev1.Namespace
	var cm corev1.ConfigMap
	var ds appsv1.DaemonSet
	decode(t, "00-namespace.yaml", &ns)
	decode(t, "10-configmap.yaml", &cm)
	decode(t, "20-daemonset.yaml", &ds)
	for _, tm := range []struct{ got, want string }{
		{ns.APIVersion + " " + ns.Kind, "v1 Namespace"},
		{cm.APIVersion + " " + cm.Kind, "v1 ConfigMap"},
		{ds.APIVersion + " " + ds.Kind, "apps/v1 DaemonSet"},
	} {
		if tm.got != tm.want {
			t.Errorf("manifest is %q, want %q", tm.got, tm.want)
		}
	}
	return &ns, &cm, &ds
}

func TestManifestsLiveInOnePrivilegedNamespace(t *testing.T) {
	ns, cm, ds := manifests(t)
	if cm.Namespace != ns.Name || ds.Namespace != ns.Name {
		t.Errorf("namespaces: Namespace %q, ConfigMap in %q, DaemonSet in %q", ns.Name, cm.Namespace, ds.Namespace)
	}
	// Pod Security admission would reject the installer's pod otherwise.
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("namespace enforces pod security %q; the installer is privileged", got)
	}
}

func TestConfigMapHoldsAConfigBerthdAccepts(t *testing.T) {
	_, cm, _ := manifests(t)
	text, ok := cm.Data["config.toml"]
	if !ok {
		t.Fatalf("ConfigMap has no config.toml: %v", cm.Data)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, text)
	cfg, err := config.Load(path) // strict: unknown keys fail
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("berthd would refuse the ConfigMap's config: %v", err)
	}
}

func TestDaemonSetInstallsOnEveryNode(t *testing.T) {
	_, cm, ds := manifests(t)
	pod := ds.Spec.Template.Spec

	if ds.Spec.Selector == nil || !mapContains(ds.Spec.Template.Labels, ds.Spec.Selector.MatchLabels) {
		t.Errorf("selector %v does not match the pod labels %v", ds.Spec.Selector, ds.Spec.Template.Labels)
	}
	// One toleration with no key and no effect tolerates every taint.
	if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
	}) {
		t.Errorf("tolerations %+v leave out tainted nodes", pod.Tolerations)
	}
	if !pod.HostPID {
		t.Error("hostPID is off: the installer can neither signal berthd nor reach the node's systemd")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the installer mounts a service account token it never uses")
	}

	var image string
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		if c.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("%s: imagePullPolicy %q; nodes may have the image loaded and no registry", c.Name, c.ImagePullPolicy)
		}
		_, tag, ok := strings.Cut(c.Image, ":")
		if !ok || tag == "latest" || (image != "" && c.Image != image) {
			t.Errorf("%s: image %q; want one versioned installer image in every container", c.Name, c.Image)
		}
		image = c.Image
	}

	if len(pod.InitContainers) != 1 {
		t.Fatalf("%d init containers, want the installer alone", len(pod.InitContainers))
	}
	install := pod.InitContainers[0]
	if sc := install.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
		t.Error("the installer is not privileged: it cannot write the node's files or enter its namespaces")
	}
	if script := strings.TrimPrefix(install.Command[0], "/berth/"); !isExecutable(filepath.Join("..", script)) {
		t.Errorf("the installer runs %s, which the image (this repository's layout under /berth) lacks", install.Command[0])
	}
	for _, c := range pod.Containers {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s is privileged; only the installer needs to be", c.Name)
		}
	}

	// Exactly these node directories, each mounted where install.sh, run
	// with DESTDIR=/host, writes it, and berthd's state dir, where
	// install-on-node.sh finds its pid and socket.
	wantHostPaths := map[string]bool{"/usr/local": true, "/opt/cni/bin": true, "/etc/cni/net.d": true, "/etc/berth": true, "/run/berth": true}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range install.VolumeMounts {
		mounts[m.Name] = m
	}
	configMount := ""
	for _, v := range pod.Volumes {
		m, mounted := mounts[v.Name]
		switch {
		case v.HostPath != nil:
			if !wantHostPaths[v.HostPath.Path] {
				t.Errorf("volume %s mounts the node's %s, which the installer does not use", v.Name, v.HostPath.Path)
			}
			delete(wantHostPaths, v.HostPath.Path)
			if !mounted || m.MountPath != "/host"+v.HostPath.Path || m.ReadOnly {
				t.Errorf("the node's %s is mounted at %+v, want read-write at /host%s", v.HostPath.Path, m, v.HostPath.Path)
			}
		case v.ConfigMap != nil:
			if v.ConfigMap.Name != cm.Name {
				t.Errorf("volume %s names ConfigMap %q, not %q", v.Name, v.ConfigMap.Name, cm.Name)
			}
			if mounted {
				configMount = m.MountPath
			}
		default:
			t.Errorf("unexpected volume %s", v.Name)
		}
	}
	for path := range wantHostPaths {
		t.Errorf("the node's %s is not mounted", path)
	}
	env := map[string]string{}
	for _, e := range install.Env {
		env[e.Name] = e.Value
	}
	if env["BERTH_CONFIG"] != filepath.Join(configMount, "config.toml") {
		t.Errorf("BERTH_CONFIG=%q is not the ConfigMap's config.toml (mounted at %q)", env["BERTH_CONFIG"], configMount)
	}
	if u := env["BERTH_UNIT"]; !slices.Contains(units, u) {
		t.Errorf("BERTH_UNIT=%q is none of %v", u, units)
	}
}

func mapContains(m, sub map[string]string) bool {
	for k, v := range sub {
		if m[k] != v {
			return false
		}
	}
	return len(sub) > 0
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode()&0o111 != 0
}

// TestInstallerImageInstallsAndRestartsOnlyOnChange runs the DaemonSet's
// init container script from a staged image context (make
// installer-context), with the node's systemd played by a stand-in nsenter
// that records each systemctl call.
func TestInstallerImageInstallsAndRestartsOnlyOnChange(t *testing.T) {
	t.Parallel() // each copies the binaries: I/O, not CPU
	in := newInstaller(t)
	image := filepath.Join(t.TempDir(), "image")
	stage := exec.Command("../hack/install.sh", "stage", image)
	stage.Env = append(os.Environ(), in.env...)
	if out, err := stage.CombinedOutput(); err != nil {
		t.Fatalf("stage: %v\n%s", err, out)
	}

	work := t.TempDir()
	calls, active := filepath.Join(work, "systemctl.log"), filepath.Join(work, "active")
	writeFile(t, filepath.Join(work, "bin", "nsenter"), `#!/bin/sh
while [ "$1" != "--" ]; do shift; done
shift
echo "$*" >>"`+calls+`"
case "$*" in
"systemctl is-active --quiet "*) [ -e "`+active+`" ] ;;
"systemctl restart "*) touch "`+active+`" ;;
esac
`)
	if err := os.Chmod(filepath.Join(work, "bin", "nsenter"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(work, "config", "config.toml")
	writeFile(t, cfg, "log_level = 'info'\n")

	run := func() []string {
		t.Helper()
		os.Remove(calls)
		cmd := exec.Command(filepath.Join(image, "deploy/kubernetes/install-on-node.sh"))
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(work, "bin")+":"+os.Getenv("PATH"),
			"DESTDIR="+in.destdir, "BERTH_UNIT=berth.service", "BERTH_CONFIG="+cfg, "CRICTL_YAML=no")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("install-on-node.sh: %v\n%s", err, out)
		}
		data, _ := os.ReadFile(calls)
		// The stand-in answers the systemd check (test -d
		// /run/systemd/system) yes; what matters is what follows.
		return slices.DeleteFunc(strings.Split(strings.TrimSpace(string(data)), "\n"),
			func(c string) bool { return c == "test -d /run/systemd/system" })
	}
	restarted := func(calls []string) bool { return slices.Contains(calls, "systemctl restart berth.service") }

	first := run()
	if !slices.Equal(first[:3], []string{"systemctl daemon-reload", "systemctl disable berth-external-containerd.service", "systemctl enable berth.service"}) || !restarted(first) {
		t.Errorf("a first install ran %q; want daemon-reload, disable the other unit, enable, restart", first)
	}
	if got := in.read("/etc/berth/config.toml"); got != "log_level = 'info'\n" {
		t.Errorf("the node's config is not the ConfigMap's:\n%s", got)
	}
	for _, path := range []string{"/usr/local/bin/berthd", "/usr/local/lib/systemd/system/berth.service", "/opt/cni/bin/portmap"} {
		if _, err := os.Stat(filepath.Join(in.destdir, path)); err != nil {
			t.Errorf("the installer did not install %s: %v", path, err)
		}
	}
	if again := run(); restarted(again) {
		t.Errorf("the pod starting again over the same install restarted berthd: %q", again)
	}
	writeFile(t, cfg, "log_level = 'debug'\n")
	if changed := run(); !restarted(changed) {
		t.Errorf("a new config did not restart berthd: %q", changed)
	}
	os.Remove(active)
	if stopped := run(); !restarted(stopped) {
		t.Errorf("a stopped berth.service was not started: %q", stopped)
	}
}

// TestInstallerUpgradesBerthdInPlaceWithoutSystemd runs the init container
// script on a node without systemd, where a stand-in berthd (a process
// named berthd that, on SIGUSR2, rewrites its pid file and from then on
// answers with the new version, as a re-executed berthd does) runs: the
// installer signals it only when the install changed something, waits for
// the new version, and fails when no berthd runs at all.
func TestInstallerUpgradesBerthdInPlaceWithoutSystemd(t *testing.T) {
	t.Parallel()
	in := newInstaller(t)
	image := filepath.Join(t.TempDir(), "image")
	stage := exec.Command("../hack/install.sh", "stage", image)
	stage.Env = append(os.Environ(), in.env...)
	if out, err := stage.CombinedOutput(); err != nil {
		t.Fatalf("stage: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(image, "_output/bin/berthd"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))[1]

	work := t.TempDir()
	runDir := filepath.Join(in.destdir, "run", "berth")
	version, signals := filepath.Join(work, "version"), filepath.Join(work, "signals")
	writeFile(t, version, "0.0.1-old\n")
	// No systemd: the stand-in nsenter fails its check.
	writeFile(t, filepath.Join(work, "bin", "nsenter"), `#!/bin/sh
while [ "$1" != "--" ]; do shift; done
shift
case "$*" in
"test -d /run/systemd/system") exit 1 ;;
esac
echo "unexpected host command: $*" >&2
exit 1
`)
	if err := os.Chmod(filepath.Join(work, "bin", "nsenter"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(image, "_output/bin/crictl"), "#!/bin/sh\necho \"RuntimeVersion:  $(cat "+version+")\"\n")
	if err := os.Chmod(filepath.Join(image, "_output/bin/crictl"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "berthd"), `#!/bin/sh
trap 'echo USR2 >>`+signals+`; echo $$ >`+runDir+`/berthd.pid; echo `+want+` >`+version+`' USR2
echo $$ >`+runDir+`/berthd.pid
while :; do sleep 0.05; done
`)
	if err := os.Chmod(filepath.Join(work, "berthd"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(work, "config.toml")
	writeFile(t, cfg, "log_level = 'info'\n")

	run := func() (string, error) {
		t.Helper()
		cmd := exec.Command(filepath.Join(image, "deploy/kubernetes/install-on-node.sh"))
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(work, "bin")+":"+os.Getenv("PATH"),
			"DESTDIR="+in.destdir, "BERTH_UNIT=berth.service", "BERTH_CONFIG="+cfg, "CRICTL_YAML=no", "UPGRADE_TIMEOUT=20")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	signalled := func() int {
		data, _ := os.ReadFile(signals)
		return strings.Count(string(data), "USR2")
	}

	if out, err := run(); err == nil || !strings.Contains(out, "no berthd runs here") {
		t.Fatalf("with no berthd and no systemd the installer exited %v:\n%s", err, out)
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	berthd := exec.Command(filepath.Join(work, "berthd"))
	if err := berthd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = berthd.Process.Kill(); _ = berthd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(runDir, "berthd.pid")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stand-in berthd wrote no pid file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The first run above installed already: change the config so this
	// one has something to upgrade to.
	writeFile(t, cfg, "log_level = 'debug'\n")
	if o, err := run(); err != nil || signalled() != 1 || !strings.Contains(o, "upgraded in place: now "+want) {
		t.Fatalf("upgrade: exit %v, %d signals:\n%s", err, signalled(), o)
	}
	if o, err := run(); err != nil || signalled() != 1 || !strings.Contains(o, "not upgraded") {
		t.Fatalf("the same install again: exit %v, %d signals (want the one from before):\n%s", err, signalled(), o)
	}
}
