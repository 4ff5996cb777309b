package pack

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadFile(t *testing.T) {
	want := Spec{
		Kernel: "DIR/vmlinuz", Type: "linux", Hypervisor: "qemu", Cmdline: "console=ttyS0",
		Rootfs: "/abs/rootfs", BlockMount: "/data", Block: "DIR/disk.img", MountRootfs: true,
		Entrypoint: []string{"/app"}, Cmd: []string{"3"}, Env: []string{"A=1"},
		Tag: "urunc.local/hello:latest", Output: "DIR/out.tar", Format: "docker",
	}
	tests := []struct {
		name, file, text string
	}{
		{"toml", "spec.toml", `kernel = "vmlinuz"
type = "linux"
hypervisor = "qemu"
cmdline = "console=ttyS0"
rootfs = "/abs/rootfs"
block = "disk.img"
block-mount = "/data"
mount-rootfs = true
entrypoint = ["/app"]
cmd = ["3"]
env = ["A=1"]
tag = "urunc.local/hello:latest"
output = "out.tar"
format = "docker"
`},
		{"json", "spec.json", `{"kernel": "vmlinuz", "type": "linux", "hypervisor": "qemu",
"cmdline": "console=ttyS0", "rootfs": "/abs/rootfs", "block": "disk.img", "block-mount": "/data",
"mount-rootfs": true, "entrypoint": ["/app"], "cmd": ["3"], "env": ["A=1"],
"tag": "urunc.local/hello:latest", "output": "out.tar", "format": "docker"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			write(t, path, tc.text, 0o644)
			got, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			for _, p := range []*string{&w.Kernel, &w.Block, &w.Output} {
				*p = strings.Replace(*p, "DIR", dir, 1)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct{ name, file, text, wantMsg string }{
		{"unknown toml key", "s.toml", "kernal = \"x\"\n", `unknown key "kernal"`},
		{"unknown json key", "s.json", `{"kernal": "x"}`, `unknown field "kernal"`},
		{"bad toml", "s.toml", "kernel = \n", "s.toml"},
		{"wrong json type", "s.json", `{"cmd": "x"}`, "s.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			write(t, path, tc.text, 0o644)
			_, err := LoadFile(path)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("LoadFile: %v, want ErrInvalid mentioning %q", err, tc.wantMsg)
			}
		})
	}
}
