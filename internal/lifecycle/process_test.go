package lifecycle

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The init process carries process.apparmorProfile, as under runc: the
// container config that specconv builds has no AppArmor field to fall back
// on (found by runtime-tools' linux_process_apparmor_profile validation).
func TestNewProcessAppArmorProfile(t *testing.T) {
	for _, init := range []bool{true, false} {
		p, err := newProcess(&specs.Process{Args: []string{"true"}, ApparmorProfile: "acme"}, init)
		if err != nil {
			t.Fatal(err)
		}
		if p.AppArmorProfile != "acme" {
			t.Errorf("init=%v: AppArmorProfile %q, want %q", init, p.AppArmorProfile, "acme")
		}
	}
}
