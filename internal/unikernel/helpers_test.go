package unikernel

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newRootfs returns an empty rootfs directory inside a fresh temp dir, so
// that escapes above it land in the test's own directory first.
func newRootfs(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	mkdir(t, root, ".")
	return root
}

func mkdir(t *testing.T, root, rel string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

func mkfile(t *testing.T, root, rel string) {
	t.Helper()
	mkdir(t, root, filepath.Dir(rel))
	if err := os.WriteFile(filepath.Join(root, rel), []byte(rel), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mklink(t *testing.T, root, rel, target string) {
	t.Helper()
	mkdir(t, root, filepath.Dir(rel))
	if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
		t.Fatal(err)
	}
}

// writeMeta writes urunc.json with the values of kv base64-encoded.
func writeMeta(t *testing.T, root string, kv map[string]string) {
	t.Helper()
	enc := map[string]string{}
	for k, v := range kv {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	data, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	writeRaw(t, root, string(data))
}

func writeRaw(t *testing.T, root, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, MetadataFile), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkErr checks err against want (nil means no error expected), that
// every image error is ErrInvalid, and that its message has each of msgs.
func checkErr(t *testing.T, err, want error, msgs ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not match ErrInvalid", err)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}
