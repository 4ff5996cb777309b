package pack

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(s *Spec)
		wantMsg string // "" for valid
	}{
		{"valid", func(s *Spec) {}, ""},
		{"missing kernel", func(s *Spec) { s.Kernel = "" }, "--kernel is required"},
		{"kernel not found", func(s *Spec) { s.Kernel += ".nope" }, "--kernel: stat"},
		{"kernel is a folder", func(s *Spec) { s.Kernel = inDir(*s, "rootfs") }, "--kernel \""},
		{"missing type", func(s *Spec) { s.Type = "" }, "--type is required"},
		{"unknown type", func(s *Spec) { s.Type = "osv" }, `unknown --type "osv"`},
		{"unknown hypervisor", func(s *Spec) { s.Hypervisor = "kvm" }, `unknown --hypervisor "kvm"`},
		{"initrd not found", func(s *Spec) { s.Initrd = "/nope" }, "--initrd: stat"},
		{"block not found", func(s *Spec) { s.Block = "/nope" }, "--block: stat"},
		{"block mount without block", func(s *Spec) { s.BlockMount = "/data" }, "--block-mount \"/data\" needs --block"},
		{"rootfs not found", func(s *Spec) { s.Rootfs = "/nope" }, "--rootfs: stat"},
		{"rootfs is a file", func(s *Spec) { s.Rootfs = s.Kernel }, "not a directory"},
		{"env without =", func(s *Spec) { s.Env = []string{"A=1", "B"} }, `--env "B"`},
		{"missing tag", func(s *Spec) { s.Tag = "" }, "--tag is required"},
		{"bad tag", func(s *Spec) { s.Tag = "Upper/Case" }, `--tag "Upper/Case"`},
		{"digest tag", func(s *Spec) { s.Tag = "x/y@sha256:" + strings.Repeat("0", 64) }, "--tag"},
		{"missing output", func(s *Spec) { s.Output = "" }, "--output is required"},
		{"unknown format", func(s *Spec) { s.Format = "tar" }, `unknown --format "tar"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := inputs(t)
			tc.edit(&s)
			err := s.Validate()
			if tc.wantMsg == "" {
				if err != nil || s.Format != FormatOCI {
					t.Fatalf("Validate: %v, format %q", err, s.Format)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Validate: %v, want ErrInvalid mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func TestImageName(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"hello", "docker.io/library/hello:latest"},
		{"hello:1.0", "docker.io/library/hello:1.0"},
		{"docker.io/me/hello", "docker.io/me/hello:latest"},
		{"urunc.local/hello:latest", "urunc.local/hello:latest"},
		{"localhost:5000/a/b:c", "localhost:5000/a/b:c"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := imageName(tc.ref)
			if err != nil || got != tc.want {
				t.Fatalf("imageName(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
			}
		})
	}
}
