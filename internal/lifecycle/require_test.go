package lifecycle

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// A plain container is refused where a unikernel is required (the
// configuration or the annotation), except a pod's sandbox.
func TestRequireUnikernel(t *testing.T) {
	sandbox := map[string]string{"io.kubernetes.cri.container-type": "sandbox"}
	cases := []struct {
		name        string
		strict      bool
		annotations map[string]string
		wantErr     string // "" for a plain container that runs
	}{
		{"default: plain runs", false, nil, ""},
		{"strict config refuses", true, nil, "require_unikernel"},
		{"strict config, pod sandbox runs", true, sandbox, ""},
		{"annotation refuses", false, map[string]string{unikernel.KeyRequired: "true"}, unikernel.KeyRequired + " requires one"},
		{"annotation false", false, map[string]string{unikernel.KeyRequired: "false"}, ""},
		{"annotation bad value", false, map[string]string{unikernel.KeyRequired: "yes"}, `"yes" is not true or false`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Security.RequireUnikernel = tc.strict
			r := &Runtime{Root: t.TempDir(), Config: cfg}
			spec := &specs.Spec{Root: &specs.Root{Path: t.TempDir()}, Annotations: tc.annotations}
			meta, err := r.unikernelConfig(spec, t.TempDir())
			if tc.wantErr == "" {
				if err != nil || meta != nil {
					t.Fatalf("unikernelConfig = %v, %v; want a plain container", meta, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("unikernelConfig error %v, want one with %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "requires") && !errors.Is(err, ErrNotUnikernel) {
				t.Errorf("error %v is not ErrNotUnikernel", err)
			}
		})
	}
}
