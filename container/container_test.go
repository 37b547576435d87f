package container

import (
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestStoreGetByPrefix(t *testing.T) {
	s := NewStore()
	for _, id := range []string{"abc123", "abd456", "xyz789"} {
		s.add(newContainer(Metadata{ID: id, SandboxID: "sb-" + id[:1]}, Status{}))
	}
	for _, tc := range []struct {
		in      string
		want    string
		errKind func(error) bool
	}{
		{"abc123", "abc123", nil},
		{"abc", "abc123", nil},
		{"x", "xyz789", nil},
		{"ab", "", errdefs.IsInvalidArgument},
		{"nope", "", errdefs.IsNotFound},
		{"", "", errdefs.IsInvalidArgument},
	} {
		c, err := s.Get(tc.in)
		switch {
		case tc.errKind != nil && !tc.errKind(err):
			t.Errorf("Get(%q) error = %v", tc.in, err)
		case tc.errKind == nil && (err != nil || c.ID != tc.want):
			t.Errorf("Get(%q) = %v, %v; want %s", tc.in, c, err, tc.want)
		}
	}
	if got := s.ListSandbox("sb-a"); len(got) != 2 {
		t.Errorf("ListSandbox = %d containers, want 2", len(got))
	}
}

func TestRegistrar(t *testing.T) {
	r := newRegistrar()
	if err := r.reserve("n", "id1"); err != nil {
		t.Fatal(err)
	}
	if err := r.reserve("n", "id1"); err != nil {
		t.Errorf("re-reserving for the same ID: %v", err)
	}
	if err := r.reserve("n", "id2"); !errdefs.IsAlreadyExists(err) {
		t.Errorf("duplicate name: %v, want AlreadyExists", err)
	}
	r.release("n", "id2") // not the holder: no effect
	if err := r.reserve("n", "id2"); !errdefs.IsAlreadyExists(err) {
		t.Errorf("release by a non-holder freed the name")
	}
	r.release("n", "id1")
	if err := r.reserve("n", "id2"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestMakeName(t *testing.T) {
	got := makeName(&runtimeapi.ContainerMetadata{Name: "app", Attempt: 2},
		&runtimeapi.PodSandboxMetadata{Name: "pod", Namespace: "ns", Uid: "u1"})
	if got != "app_pod_ns_u1_2" {
		t.Errorf("makeName = %q", got)
	}
}

func TestStatusUpdateIsAtomic(t *testing.T) {
	c := newContainer(Metadata{ID: "x"}, Status{State: runtimeapi.ContainerState_CONTAINER_CREATED})
	err := c.Update(func(s Status) (Status, error) {
		s.State = runtimeapi.ContainerState_CONTAINER_RUNNING
		return s, errdefs.ErrFailedPrecondition
	})
	if err == nil || c.Status().State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("a failed Update changed the status")
	}
}

func TestCappedBuffer(t *testing.T) {
	b := &cappedBuffer{max: 10}
	for _, s := range []string{"12345", "67890abc", "def"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v: a capped buffer must swallow everything", s, n, err)
		}
	}
	if got := string(b.Bytes()); got != "1234567890" {
		t.Errorf("kept %q", got)
	}
}

func TestValidateConfig(t *testing.T) {
	ok := func() *runtimeapi.ContainerConfig {
		return &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
			Image:    &runtimeapi.ImageSpec{Image: "busybox"},
			Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{}},
		}
	}
	if err := validateConfig(ok()); err != nil {
		t.Errorf("valid config: %v", err)
	}
	for name, mutate := range map[string]func(*runtimeapi.ContainerConfig){
		"no name":  func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "" },
		"no image": func(c *runtimeapi.ContainerConfig) { c.Image = nil },
		// CheckpointPod names files after the container.
		"name climbing": func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "../../etc/cron.d/x" },
		"name with /":   func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "a/b" },
		"name ..":       func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = ".." },
		"name .":        func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "." },
		"name with NUL": func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "a\x00" },
		"group without user": func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: 1}
		},
	} {
		c := ok()
		mutate(c)
		if err := validateConfig(c); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if err := validateConfig(nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("nil config: %v", err)
	}
}
