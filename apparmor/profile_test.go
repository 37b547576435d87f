package apparmor

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
	def := Profile{Kind: RuntimeDefault, Name: DefaultProfileName}
	none := Profile{Kind: Unconfined}
	for _, tc := range []struct {
		name       string
		sp         *runtimeapi.SecurityProfile
		legacy     string
		privileged bool
		enabled    bool
		want       Profile
		wantErr    func(error) bool
	}{
		// AppArmor enabled.
		{name: "nothing asked is RuntimeDefault", enabled: true, want: def},
		{name: "RuntimeDefault", sp: profile(rd, ""), enabled: true, want: def},
		{name: "Unconfined", sp: profile(un, ""), enabled: true, want: none},
		{name: "Localhost", sp: profile(lh, "deny-write"), enabled: true, want: Profile{Kind: Localhost, Name: "deny-write"}},
		{name: "Localhost ref with the localhost/ prefix", sp: profile(lh, "localhost/deny-write"), enabled: true, want: Profile{Kind: Localhost, Name: "deny-write"}},
		{name: "privileged RuntimeDefault is unconfined", sp: profile(rd, ""), privileged: true, enabled: true, want: none},
		{name: "privileged default is unconfined", privileged: true, enabled: true, want: none},
		{name: "privileged Localhost applies", sp: profile(lh, "deny-write"), privileged: true, enabled: true, want: Profile{Kind: Localhost, Name: "deny-write"}},
		{name: "legacy runtime/default", legacy: "runtime/default", enabled: true, want: def},
		{name: "legacy unconfined", legacy: "unconfined", enabled: true, want: none},
		{name: "legacy localhost", legacy: "localhost/deny-write", enabled: true, want: Profile{Kind: Localhost, Name: "deny-write"}},
		{name: "field wins over legacy", sp: profile(un, ""), legacy: "localhost/deny-write", enabled: true, want: none},

		// AppArmor not in the kernel.
		{name: "disabled: nothing asked", want: none},
		{name: "disabled: RuntimeDefault is a no-op", sp: profile(rd, ""), want: none},
		{name: "disabled: legacy runtime/default is a no-op", legacy: "runtime/default", want: none},
		{name: "disabled: Unconfined", sp: profile(un, ""), want: none},
		{name: "disabled: Localhost fails", sp: profile(lh, "deny-write"), wantErr: errdefs.IsFailedPrecondition},
		{name: "disabled: legacy localhost fails", legacy: "localhost/deny-write", wantErr: errdefs.IsFailedPrecondition},
		{name: "disabled: privileged Localhost fails", sp: profile(lh, "deny-write"), privileged: true, wantErr: errdefs.IsFailedPrecondition},

		// Malformed, whatever the kernel.
		{name: "Localhost without a name", sp: profile(lh, ""), enabled: true, wantErr: errdefs.IsInvalidArgument},
		{name: "Localhost ref that is only the prefix", sp: profile(lh, "localhost/"), enabled: true, wantErr: errdefs.IsInvalidArgument},
		{name: "Localhost name with a space", sp: profile(lh, "a b"), enabled: true, wantErr: errdefs.IsInvalidArgument},
		{name: "ref with RuntimeDefault", sp: profile(rd, "x"), wantErr: errdefs.IsInvalidArgument},
		{name: "unknown type", sp: profile(9, ""), enabled: true, wantErr: errdefs.IsInvalidArgument},
		{name: "legacy nonsense", legacy: "docker-default", wantErr: errdefs.IsInvalidArgument},
		{name: "legacy localhost without a name", legacy: "localhost/", enabled: true, wantErr: errdefs.IsInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.sp, tc.legacy, tc.privileged, tc.enabled)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("Resolve = %+v, %v; want another error class", got, err)
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

func TestNotEnabledMessage(t *testing.T) {
	_, err := Resolve(&runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "p"}, "", false, false)
	if err == nil || err.Error() != `AppArmor profile "p": AppArmor is not enabled on this node: failed precondition` {
		t.Fatalf("err = %v", err)
	}
}
