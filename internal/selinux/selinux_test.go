package selinux

import (
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestLabel(t *testing.T) {
	full := &runtimeapi.SELinuxOption{User: "u", Role: "r", Type: "t", Level: "s0:c1,c2"}
	for _, tc := range []struct {
		name      string
		opts      *runtimeapi.SELinuxOption
		enforcing bool
		want      string
		wantErr   bool
	}{
		{name: "not enforcing ignores options", opts: full},
		{name: "no options", enforcing: true},
		{name: "empty options", opts: &runtimeapi.SELinuxOption{}, enforcing: true},
		{name: "all fields", opts: full, enforcing: true, want: "u:r:t:s0:c1,c2"},
		{name: "level only", opts: &runtimeapi.SELinuxOption{Level: "s0:c4,c5"}, enforcing: true, want: "system_u:system_r:container_t:s0:c4,c5"},
		{name: "type only", opts: &runtimeapi.SELinuxOption{Type: "spc_t"}, enforcing: true, want: "system_u:system_r:spc_t:s0"},
		{name: "colon in type", opts: &runtimeapi.SELinuxOption{Type: "a:b"}, enforcing: true, wantErr: true},
		{name: "newline in level", opts: &runtimeapi.SELinuxOption{Level: "s0\n"}, enforcing: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Label(tc.opts, tc.enforcing)
			if tc.wantErr {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("Label = %q, %v; want InvalidArgument", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Label = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
