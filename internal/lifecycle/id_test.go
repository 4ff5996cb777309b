package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	cases := []struct {
		id   string
		ok   bool
		rule string // what the error says
	}{
		{"web-1", true, ""},
		{"a.b_c+d-E9", true, ""},
		{"..a", true, ""}, // runc allows dots inside a name
		{".hidden", true, ""},
		{strings.Repeat("x", 255), true, ""},
		{"", false, "empty"},
		{".", false, "not a folder name"},
		{"..", false, "not a folder name"},
		{"../..", false, `byte '/'`},
		{"../../..", false, `byte '/'`},
		{"a/b", false, `byte '/'`},
		{"/abs", false, `byte '/'`},
		{"a b", false, `byte ' '`},
		{"tab\there", false, `byte '\t'`},
		{"nl\n", false, `byte '\n'`},
		{"nul\x00", false, `byte '\x00'`},
		{"é", false, "byte"},
		{"a:b", false, `byte ':'`},
		{"$(x)", false, "byte"},
		{strings.Repeat("x", 256), false, "at most 255"},
		{vmDirName, false, "reserved"},
	}
	for _, c := range cases {
		err := ValidateID(c.id)
		if c.ok {
			if err != nil {
				t.Errorf("ValidateID(%q) = %v, want ok", c.id, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidID) || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("ValidateID(%q) = %v, want %v naming %q", c.id, err, ErrInvalidID, c.rule)
		}
	}
}

func testRuntime(t *testing.T) *Runtime {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	return &Runtime{Root: filepath.Join(t.TempDir(), "state"), Log: l}
}

// The claim makes the state root and the VM folders private (0700), as
// runc's state root is.
func TestClaimVMDirMode(t *testing.T) {
	r := testRuntime(t)
	unix.Umask(0o022)
	f, err := r.claimVMDir("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, d := range []string{r.Root, filepath.Dir(r.vmDir("c1")), r.vmDir("c1")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
}

// Two creates of one id: the second cannot claim the folder the first
// holds, and removes nothing of it.
func TestClaimVMDirConcurrent(t *testing.T) {
	r := testRuntime(t)
	first, err := r.claimVMDir("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	marker := filepath.Join(r.vmDir("c1"), "plan.json")
	if err := os.WriteFile(marker, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.claimVMDir("c1"); !errors.Is(err, ErrCreating) {
		t.Fatalf("second claim: %v, want %v", err, ErrCreating)
	}
	if err := r.Delete("c1", true); !errors.Is(err, ErrCreating) {
		t.Errorf("delete --force during create: %v, want %v", err, ErrCreating)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the loser removed the winner's vm folder: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(r.vmDir("c1")))
	if len(entries) != 1 {
		t.Errorf("vm folders left: %v, want only c1", entries)
	}
}

// A folder left by a create that died (lock released, no container) is
// taken over; delete of the id removes it too.
func TestClaimVMDirStale(t *testing.T) {
	r := testRuntime(t)
	dead, err := r.claimVMDir("c1")
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(r.vmDir("c1"), "stale")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dead.Close() // the process died
	f, err := r.claimVMDir("c1")
	if err != nil {
		t.Fatalf("claim over a dead create's folder: %v", err)
	}
	f.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead create's files stayed: %v", err)
	}
	if err := r.Delete("c1", true); err != nil {
		t.Fatalf("delete --force of a half-created id: %v", err)
	}
	if _, err := os.Stat(r.vmDir("c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete left the vm folder: %v", err)
	}
}

// An invalid id is refused by every verb before any path is made of it.
func TestVerbsRefuseBadID(t *testing.T) {
	r := testRuntime(t)
	const id = "../../escape"
	checks := map[string]error{
		"create": func() error { _, err := r.Create(CreateOpts{ID: id, Bundle: t.TempDir()}, false); return err }(),
		"start":  r.Start(id),
		"kill":   r.Kill(id, unix.SIGTERM, false),
		"delete": r.Delete(id, true),
		"state":  func() error { _, err := r.State(id); return err }(),
		"ps":     func() error { _, err := r.Ps(id); return err }(),
		"pause":  r.Pause(id),
		"update": r.Update(id, nil),
	}
	for verb, err := range checks {
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("%s %q: %v, want %v", verb, id, err, ErrInvalidID)
		}
	}
	if _, err := os.Stat(r.Root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused id made the state root: %v", err)
	}
}

// A claim left half-way by a create that died (its temporary folder,
// unlocked) is swept by the next claim; one in progress (locked) is not.
func TestClaimSweepsDeadClaims(t *testing.T) {
	r := testRuntime(t)
	parent := filepath.Dir(r.vmDir("x"))
	if err := os.MkdirAll(filepath.Join(parent, claimPrefix+"dead"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * claimSweepAge) // younger claims are left be
	if err := os.Chtimes(filepath.Join(parent, claimPrefix+"dead"), old, old); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(parent, claimPrefix+"live")
	if err := os.MkdirAll(live, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(live, old, old); err != nil {
		t.Fatal(err)
	}
	held, err := lockDir(live, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	f, err := r.claimVMDir("c1")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(parent, claimPrefix+"dead")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead claim's folder stayed: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the claim in progress was swept: %v", err)
	}
}

// A claim folder left by a create killed before its rename goes with the
// last VM folder's removal, and so does the shared parent.
func TestRemoveVMDirSweepsDeadClaims(t *testing.T) {
	r := testRuntime(t)
	f, err := r.claimVMDir("c1")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	parent := filepath.Dir(r.vmDir("c1"))
	dead := filepath.Join(parent, claimPrefix+"dead")
	if err := os.Mkdir(dead, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * claimSweepAge)
	if err := os.Chtimes(dead, old, old); err != nil {
		t.Fatal(err)
	}
	r.removeVMDir("c1")
	if _, err := os.Stat(parent); !os.IsNotExist(err) {
		left, _ := os.ReadDir(parent)
		t.Errorf("%s left after the last VM folder went (%d entries): %v", parent, len(left), err)
	}
}
