package initrd

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cavaliergopher/cpio"
)

// entry is what a test checks about one archive member.
type entry struct {
	name string
	mode cpio.FileMode // type and permission bits
	data string        // contents, or the target of a symbolic link
}

var urunitFiles = []File{
	{Path: "/.urunit/urunit", Mode: 0o755, Data: []byte("ELF")},
	{Path: "/.urunit/config.json", Mode: 0o644, Data: []byte(`{"args":["/bin/app"]}`)},
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name   string
		rootfs func(t *testing.T, dir string) // nil: no rootfs
		extra  []File
		want   []entry
	}{
		{
			name:  "extras only",
			extra: urunitFiles,
			want: []entry{
				{".urunit", cpio.TypeDir | 0o755, ""},
				{".urunit/config.json", cpio.TypeReg | 0o644, `{"args":["/bin/app"]}`},
				{".urunit/urunit", cpio.TypeReg | 0o755, "ELF"},
			},
		},
		{
			name:   "rootfs kinds",
			rootfs: rootfsKinds,
			want: []entry{
				{"bin", cpio.TypeDir | 0o750, ""},
				{"bin/app", cpio.TypeReg | 0o755 | cpio.ModeSetuid, "app"},
				{"empty", cpio.TypeReg | 0o600, ""},
				{"escape", cpio.TypeSymlink | 0o777, "../../../etc/shadow"},
				{"etc", cpio.TypeDir | 0o755, ""},
				{"etc/passwd", cpio.TypeReg | 0o644, "root:x:0:0::/root:/bin/sh\n"},
				{"fifo", cpio.TypeFifo | 0o644, ""},
				{"hostpasswd", cpio.TypeSymlink | 0o777, "/etc/passwd"},
				{"tmp", cpio.TypeDir | 0o777 | cpio.ModeSticky, ""},
			},
		},
		{
			name:   "extras replace rootfs entries",
			rootfs: rootfsClashing,
			extra: append([]File{
				{Path: "etc/resolv.conf", Mode: 0o644, Data: []byte("nameserver 10.0.0.1\n")},
				{Path: "/usr/bin/sh", Mode: fs.ModeSymlink | 0o777, Data: []byte("busybox")},
			}, urunitFiles...),
			want: []entry{
				{"etc", cpio.TypeDir | 0o700, ""},
				{"etc/hosts", cpio.TypeReg | 0o644, "hosts"},
				{"usr", cpio.TypeDir | 0o755, ""},
				{".urunit", cpio.TypeDir | 0o755, ""},
				{".urunit/config.json", cpio.TypeReg | 0o644, `{"args":["/bin/app"]}`},
				{".urunit/urunit", cpio.TypeReg | 0o755, "ELF"},
				{"etc/resolv.conf", cpio.TypeReg | 0o644, "nameserver 10.0.0.1\n"},
				{"usr/bin", cpio.TypeDir | 0o755, ""},
				{"usr/bin/sh", cpio.TypeSymlink | 0o777, "busybox"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := ""
			if tc.rootfs != nil {
				rootfs = t.TempDir()
				tc.rootfs(t, rootfs)
			}
			data := build(t, rootfs, tc.extra)
			if got := readArchive(t, data); !slices.Equal(got, tc.want) {
				t.Errorf("archive entries:\n got %v\nwant %v", got, tc.want)
			}
			if again := build(t, rootfs, tc.extra); !bytes.Equal(data, again) {
				t.Error("two builds of the same input differ")
			}
			checkWithCPIOTool(t, data, tc.want)
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name   string
		rootfs string
		extra  []File
		want   error
	}{
		{"root path", "", []File{{Path: "/", Mode: fs.ModeDir}}, ErrBadPath},
		{"empty path", "", []File{{Path: ""}}, ErrBadPath},
		{"dot dot", "", []File{{Path: "/a/../../etc/x"}}, ErrBadPath},
		{"duplicate", "", []File{{Path: "/a"}, {Path: "a"}}, ErrConflict},
		{"file under file", "", []File{{Path: "/a"}, {Path: "/a/b"}}, ErrConflict},
		{"device", "", []File{{Path: "/dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice}}, ErrUnsupportedType},
		{"missing rootfs", "/nonexistent/rootfs", nil, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Build(io.Discard, tc.rootfs, tc.extra)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Build() error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBuildSkipsDeviceNodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a device node needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod not permitted here: %v", err)
	}
	writeFile(t, dir, "keep", 0o644, "x")
	want := []entry{{"keep", cpio.TypeReg | 0o644, "x"}}
	if got := readArchive(t, build(t, dir, nil)); !slices.Equal(got, want) {
		t.Errorf("archive entries: got %v, want %v", got, want)
	}
}

// rootfsKinds fills dir with one entry of every kind Build handles.
func rootfsKinds(t *testing.T, dir string) {
	mkdir(t, dir, "bin", 0o750)
	writeFile(t, dir, "bin/app", 0o755|fs.ModeSetuid, "app")
	writeFile(t, dir, "empty", 0o600, "")
	mkdir(t, dir, "etc", 0o755)
	writeFile(t, dir, "etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n")
	mkdir(t, dir, "tmp", 0o777|fs.ModeSticky)
	symlink(t, dir, "/etc/passwd", "hostpasswd")
	symlink(t, dir, "../../../etc/shadow", "escape")
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "socket"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

// rootfsClashing fills dir with entries that the extras of the test case
// replace: a .urunit symlink out of the rootfs, a file where a directory is
// needed and a file an extra overwrites.
func rootfsClashing(t *testing.T, dir string) {
	symlink(t, dir, "/tmp", ".urunit")
	mkdir(t, dir, "etc", 0o700)
	writeFile(t, dir, "etc/hosts", 0o644, "hosts")
	writeFile(t, dir, "etc/resolv.conf", 0o644, "from image")
	mkdir(t, dir, "usr", 0o755)
	writeFile(t, dir, "usr/bin", 0o755, "not a directory")
}

func build(t *testing.T, rootfs string, extra []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(&buf, rootfs, extra); err != nil {
		t.Fatalf("Build: %v", err)
	}
	return buf.Bytes()
}

func readArchive(t *testing.T, data []byte) []entry {
	t.Helper()
	var got []entry
	r := cpio.NewReader(bytes.NewReader(data))
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read %q: %v", hdr.Name, err)
		}
		if hdr.Mode&cpio.ModeType == cpio.TypeSymlink {
			body = []byte(hdr.Linkname)
		}
		got = append(got, entry{hdr.Name, hdr.Mode, string(body)})
	}
}

// checkWithCPIOTool lists the archive with the cpio program, when present.
func checkWithCPIOTool(t *testing.T, data []byte, want []entry) {
	t.Helper()
	tool, err := exec.LookPath("cpio")
	if err != nil {
		return
	}
	cmd := exec.Command(tool, "-t", "--quiet")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	var names []string
	for _, e := range want {
		names = append(names, e.name)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, names) {
		t.Errorf("cpio -t lists %v, want %v", got, names)
	}
}

func mkdir(t *testing.T, dir, name string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, dir, name string, mode fs.FileMode, data string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, dir, target, name string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func TestBuildKeepsOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	writeFile(t, dir, "owned", 0o640, "x")
	if err := os.Lchown(filepath.Join(dir, "owned"), 1000, 100); err != nil {
		t.Fatal(err)
	}
	hdr, err := cpio.NewReader(bytes.NewReader(build(t, dir, nil))).Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Uid != 1000 || hdr.Guid != 100 {
		t.Errorf("owner = %d:%d, want 1000:100", hdr.Uid, hdr.Guid)
	}
}

func TestBuildOmitting(t *testing.T) {
	rootfs := t.TempDir()
	rootfsKinds(t, rootfs)
	var buf bytes.Buffer
	if err := BuildOmitting(&buf, rootfs, nil, []string{"/bin/app", "etc", "nosuch"}); err != nil {
		t.Fatal(err)
	}
	for _, e := range readArchive(t, buf.Bytes()) {
		if e.name == "bin/app" || e.name == "etc" || e.name == "etc/passwd" {
			t.Errorf("omitted entry %q is in the archive", e.name)
		}
	}
}
