package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/pack"
)

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.toml")
	writeFile(t, file, `kernel = "vmlinuz"
type = "unikraft"
hypervisor = "qemu"
cmd = ["a", "b"]
env = ["A=1"]
tag = "urunc.local/hello:1"
`)
	tests := []struct {
		name string
		args []string
		want pack.Spec
	}{
		{"flags only", []string{"--kernel", "k", "--type", "linux", "--hypervisor=qemu",
			"--cmd", "x", "--cmd", "y", "--entrypoint", `["/bin/sh", "-c"]`, "--mount-rootfs"},
			pack.Spec{Kernel: "k", Type: "linux", Hypervisor: "qemu", Cmd: []string{"x", "y"},
				Entrypoint: []string{"/bin/sh", "-c"}, MountRootfs: true, Format: "oci"}},
		{"file only", []string{"-f", file},
			pack.Spec{Kernel: filepath.Join(dir, "vmlinuz"), Type: "unikraft", Hypervisor: "qemu",
				Cmd: []string{"a", "b"}, Env: []string{"A=1"}, Tag: "urunc.local/hello:1", Format: "oci"}},
		{"flags override file", []string{"--type", "linux", "-f", file, "--cmd", "[]", "--env", "B=2",
			"--format", "docker"},
			pack.Spec{Kernel: filepath.Join(dir, "vmlinuz"), Type: "linux", Hypervisor: "qemu",
				Cmd: []string{}, Env: []string{"B=2"}, Tag: "urunc.local/hello:1", Format: "docker"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	writeFile(t, kernel, "KERNEL")
	out := filepath.Join(dir, "out.tar")
	base := []string{"--kernel", kernel, "--type", "linux", "--hypervisor", "qemu",
		"--tag", "urunc.local/hello:latest", "--output", out}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"ok", base, 0, ""},
		{"help", []string{"-h"}, 0, "usage: urunc-pack"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"stray argument", slices.Concat(base, []string{"extra"}), 2, `unexpected argument "extra"`},
		{"missing kernel", []string{"--type", "linux"}, 2, "--kernel is required"},
		{"unknown hypervisor", slices.Concat(base, []string{"--hypervisor", "kvm"}), 2, `unknown --hypervisor "kvm"`},
		{"unwritable output", slices.Concat(base, []string{"--output", filepath.Join(dir, "no", "x.tar")}), 1, "create --output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("run = %d, stderr %q; want %d mentioning %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no archive written: %v", err)
	}
}

func TestHelpIsErrHelp(t *testing.T) {
	if _, err := parseArgs([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseArgs(--help) = %v, want flag.ErrHelp", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
