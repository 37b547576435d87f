package seccomp

import (
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestResolveDecisionTable(t *testing.T) {
	profile := func(typ runtimeapi.SecurityProfile_ProfileType, ref string) *runtimeapi.SecurityProfile {
		return &runtimeapi.SecurityProfile{ProfileType: typ, LocalhostRef: ref}
	}
	const (
		rd = runtimeapi.SecurityProfile_RuntimeDefault
		un = runtimeapi.SecurityProfile_Unconfined
		lh = runtimeapi.SecurityProfile_Localhost
	)
	for _, tc := range []struct {
		name       string
		sp         *runtimeapi.SecurityProfile
		legacy     string
		privileged bool
		want       Profile
		wantErr    bool
	}{
		{name: "nothing set is unconfined", want: Profile{Kind: Unconfined}},
		{name: "RuntimeDefault", sp: profile(rd, ""), want: Profile{Kind: RuntimeDefault}},
		{name: "empty profile message is RuntimeDefault", sp: &runtimeapi.SecurityProfile{}, want: Profile{Kind: RuntimeDefault}},
		{name: "Unconfined", sp: profile(un, ""), want: Profile{Kind: Unconfined}},
		{name: "Localhost", sp: profile(lh, "/var/lib/kubelet/seccomp/a.json"), want: Profile{Kind: Localhost, Path: "/var/lib/kubelet/seccomp/a.json"}},
		{name: "Localhost path is cleaned", sp: profile(lh, "/var/lib/kubelet//seccomp/./a.json"), want: Profile{Kind: Localhost, Path: "/var/lib/kubelet/seccomp/a.json"}},
		{name: "Localhost without a ref", sp: profile(lh, ""), wantErr: true},
		{name: "Localhost relative", sp: profile(lh, "a.json"), wantErr: true},
		{name: "Localhost climbing", sp: profile(lh, "/var/lib/kubelet/seccomp/../../../etc/shadow"), wantErr: true},
		{name: "ref with RuntimeDefault", sp: profile(rd, "/x.json"), wantErr: true},
		{name: "ref with Unconfined", sp: profile(un, "/x.json"), wantErr: true},
		{name: "unknown type", sp: profile(7, ""), wantErr: true},

		{name: "legacy runtime/default", legacy: "runtime/default", want: Profile{Kind: RuntimeDefault}},
		{name: "legacy docker/default", legacy: "docker/default", want: Profile{Kind: RuntimeDefault}},
		{name: "legacy unconfined", legacy: "unconfined", want: Profile{Kind: Unconfined}},
		{name: "legacy localhost", legacy: "localhost//root/seccomp/a.json", want: Profile{Kind: Localhost, Path: "/root/seccomp/a.json"}},
		{name: "legacy localhost relative", legacy: "localhost/a.json", wantErr: true},
		{name: "legacy nonsense", legacy: "docker/strict", wantErr: true},
		{name: "field wins over legacy", sp: profile(un, ""), legacy: "runtime/default", want: Profile{Kind: Unconfined}},

		{name: "privileged ignores RuntimeDefault", sp: profile(rd, ""), privileged: true, want: Profile{Kind: Unconfined}},
		{name: "privileged ignores Localhost", sp: profile(lh, "/root/seccomp/a.json"), privileged: true, want: Profile{Kind: Unconfined}},
		{name: "privileged ignores legacy", legacy: "docker/default", privileged: true, want: Profile{Kind: Unconfined}},
		{name: "privileged still rejects a malformed request", sp: profile(lh, "rel.json"), privileged: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.sp, tc.legacy, tc.privileged)
			if tc.wantErr {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("Resolve = %+v, %v; want InvalidArgument", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestInRoot(t *testing.T) {
	for _, tc := range []struct {
		root, path string
		ok         bool
	}{
		{"/var/lib/kubelet/seccomp", "/var/lib/kubelet/seccomp/a.json", true},
		{"/var/lib/kubelet/seccomp/", "/var/lib/kubelet/seccomp/sub/a.json", true},
		{"/var/lib/kubelet/seccomp", "/var/lib/kubelet/seccomp", false},
		{"/var/lib/kubelet/seccomp", "/var/lib/kubelet/seccomp2/a.json", false},
		{"/var/lib/kubelet/seccomp", "/etc/a.json", false},
		{"", "/etc/a.json", false},
	} {
		_, err := inRoot(tc.root, tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("inRoot(%q, %q) = %v, want ok=%v", tc.root, tc.path, err, tc.ok)
		}
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("inRoot(%q, %q) = %v, want InvalidArgument", tc.root, tc.path, err)
		}
	}
}
