package unikernel

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// chain makes /l0 -> /l1 -> ... -> /l<n-1> -> /boot/vmlinuz: n links.
func chain(n int) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		for i := 0; i < n-1; i++ {
			mklink(t, root, fmt.Sprintf("l%d", i), fmt.Sprintf("l%d", i+1))
		}
		mklink(t, root, fmt.Sprintf("l%d", n-1), "/boot/vmlinuz")
	}
}

func TestResolveInRootfs(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, root string)
		path    string
		want    string // expected host path relative to the rootfs
		wantErr error
		msg     string // exact error message, if set
	}{
		{name: "absolute", path: "/boot/vmlinuz", want: "boot/vmlinuz"},
		// found by FuzzLoad: host errors that are the image's fault
		{name: "NUL byte", path: "/boot/\x00", wantErr: ErrBadValue},
		{name: "name too long", path: "/boot/" + strings.Repeat("n", 300), wantErr: ErrBadValue},
		{name: "relative", path: "boot/vmlinuz", want: "boot/vmlinuz"},
		{name: "dot and double slash", path: "./boot//./vmlinuz", want: "boot/vmlinuz"},
		{name: "lexical dotdot inside", path: "/boot/../boot/vmlinuz", want: "boot/vmlinuz"},
		{name: "lexical dotdot escape", path: "/boot/../../etc/passwd", wantErr: ErrPathEscape,
			msg: `com.urunc.unikernel.binary "/boot/../../etc/passwd": path leaves the container rootfs`},
		{name: "relative dotdot escape", path: "../rootfs/boot/vmlinuz", wantErr: ErrPathEscape},
		{name: "relative symlink escape", path: "/boot/evil", wantErr: ErrPathEscape,
			setup: func(t *testing.T, root string) { mklink(t, root, "boot/evil", "../../../../etc/passwd") }},
		{name: "relative symlink inside", path: "/vmlinuz", want: "boot/vmlinuz",
			setup: func(t *testing.T, root string) { mklink(t, root, "vmlinuz", "boot/./vmlinuz") }},
		{name: "absolute symlink stays inside", path: "/kernel", want: "etc/passwd",
			setup: func(t *testing.T, root string) {
				mkfile(t, root, "etc/passwd")
				mklink(t, root, "kernel", "/etc/passwd")
			}},
		{name: "absolute symlink then dotdot escape", path: "/boot/evil", wantErr: ErrPathEscape,
			setup: func(t *testing.T, root string) { mklink(t, root, "boot/evil", "/boot/../../etc/passwd") }},
		{name: "absolute symlink to root parent", path: "/evil/passwd", wantErr: ErrPathEscape,
			setup: func(t *testing.T, root string) { mklink(t, root, "evil", "/../etc") }},
		{name: "directory symlink", path: "/k/vmlinuz", want: "boot/vmlinuz",
			setup: func(t *testing.T, root string) { mklink(t, root, "k", "/boot") }},
		{name: "dotdot after directory symlink is physical", path: "/lib/../vmlinuz", want: "usr/vmlinuz",
			setup: func(t *testing.T, root string) {
				mkdir(t, root, "usr/lib")
				mkfile(t, root, "usr/vmlinuz")
				mklink(t, root, "lib", "usr/lib")
			}},
		{name: "symlink loop", path: "/a", wantErr: ErrSymlinkLoop,
			setup: func(t *testing.T, root string) {
				mklink(t, root, "a", "b")
				mklink(t, root, "b", "/a")
			}},
		{name: "self loop", path: "/a/x", wantErr: ErrSymlinkLoop,
			setup: func(t *testing.T, root string) { mklink(t, root, "a", "a") }},
		{name: "deep chain within limit", path: "/l0", want: "boot/vmlinuz", setup: chain(maxSymlinks)},
		{name: "chain over limit", path: "/l0", wantErr: ErrSymlinkLoop, setup: chain(maxSymlinks + 1)},
		{name: "missing", path: "/boot/nope", wantErr: ErrNotFound, msg: `com.urunc.unikernel.binary "/boot/nope": not found in the container rootfs`},
		{name: "missing directory", path: "/nope/vmlinuz", wantErr: ErrNotFound},
		{name: "dangling symlink", path: "/k", wantErr: ErrNotFound,
			setup: func(t *testing.T, root string) { mklink(t, root, "k", "/boot/nope") }},
		{name: "file used as directory", path: "/boot/vmlinuz/x", wantErr: ErrNotFound},
		{name: "trailing slash on file", path: "/boot/vmlinuz/", wantErr: ErrNotFound},
		{name: "directory", path: "/boot", wantErr: ErrNotRegular,
			msg: `com.urunc.unikernel.binary "/boot": not a regular file`},
		{name: "root", path: "/", wantErr: ErrNotRegular},
		{name: "fifo", path: "/fifo", wantErr: ErrNotRegular,
			setup: func(t *testing.T, root string) {
				if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
			}},
		{name: "empty", path: "", wantErr: ErrBadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootfs(t)
			mkfile(t, root, "boot/vmlinuz")
			if tt.setup != nil {
				tt.setup(t, root)
			}
			got, err := ResolveInRootfs(root, KeyBinary, tt.path)
			if err != nil {
				t.Logf("error: %v", err)
			}
			checkErr(t, err, tt.wantErr, KeyBinary)
			if tt.msg != "" && (err == nil || err.Error() != tt.msg) {
				t.Errorf("error = %v, want %q", err, tt.msg)
			}
			if tt.wantErr == nil && got != filepath.Join(root, tt.want) {
				t.Errorf("got %q, want %q", got, filepath.Join(root, tt.want))
			}
		})
	}
}
