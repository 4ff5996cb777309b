package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    urunit.Config
		wantErr error // nil: no error; errAny: any error
	}{
		{
			name: "minimal",
			json: `{"args":["/bin/app"]}`,
			want: urunit.Config{Args: []string{"/bin/app"}, Env: []string{defaultPath}, Cwd: "/"},
		},
		{
			name: "full",
			json: `{"args":["app","-v"],"env":["PATH=/bin","A=b"],"cwd":"/srv","uid":1000,"gid":100}`,
			want: urunit.Config{Args: []string{"app", "-v"}, Env: []string{"PATH=/bin", "A=b"}, Cwd: "/srv", UID: 1000, GID: 100},
		},
		{
			name: "env without path",
			json: `{"args":["app"],"env":["A=b"]}`,
			want: urunit.Config{Args: []string{"app"}, Env: []string{"A=b", defaultPath}, Cwd: "/"},
		},
		{name: "no args", json: `{"args":[]}`, wantErr: errNoArgs},
		{name: "empty argv0", json: `{"args":[""]}`, wantErr: errNoArgs},
		{name: "relative cwd", json: `{"args":["a"],"cwd":"srv"}`, wantErr: errRelativeCwd},
		{name: "unknown field", json: `{"args":["a"],"argv":["b"]}`, wantErr: errAny},
		{name: "trailing data", json: `{"args":["a"]} {}`, wantErr: errAny},
		{name: "not json", json: `args=a`, wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig([]byte(tc.json))
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("parseConfig: %v", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("parseConfig error = %v, want %v", err, tc.wantErr)
			case tc.wantErr != nil:
				return
			}
			if !equalConfig(got, tc.want) {
				t.Errorf("parseConfig = %+v, want %+v", got, tc.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func equalConfig(a, b urunit.Config) bool {
	return slices.Equal(a.Args, b.Args) && slices.Equal(a.Env, b.Env) &&
		a.Cwd == b.Cwd && a.UID == b.UID && a.GID == b.GID
}

func TestLookupEnvLastWins(t *testing.T) {
	v, ok := lookupEnv([]string{"PATH=/a", "X", "PATH=/b"}, "PATH")
	if !ok || v != "/b" {
		t.Errorf("lookupEnv = %q, %v; want \"/b\", true", v, ok)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "bin", "app"), 0o755)
	mustWrite(t, filepath.Join(dir, "bin", "data"), 0o644)
	mustWrite(t, filepath.Join(dir, "srv", "run"), 0o755)
	env := []string{"PATH=/nonexistent:" + filepath.Join(dir, "bin")}
	tests := []struct {
		name, arg0 string
		want       string
		wantStatus int // of startFailureStatus, when lookPath fails
	}{
		{"in PATH", "app", filepath.Join(dir, "bin", "app"), 0},
		{"absolute", filepath.Join(dir, "bin", "app"), filepath.Join(dir, "bin", "app"), 0},
		{"relative to cwd", "./run", filepath.Join(dir, "srv", "run"), 0},
		{"not in PATH", "nope", "", statusNotFound},
		{"absolute missing", "/nonexistent/app", "", statusNotFound},
		{"not executable", "data", "", statusNotRunning},
		{"directory", filepath.Join(dir, "bin"), "", statusNotRunning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookPath(tc.arg0, filepath.Join(dir, "srv"), env)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("lookPath = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("lookPath = %q, want an error", got)
			}
			if s := startFailureStatus(err); s != tc.wantStatus {
				t.Errorf("startFailureStatus(%v) = %d, want %d", err, s, tc.wantStatus)
			}
		})
	}
}

func mustWrite(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, mode); err != nil {
		t.Fatal(err)
	}
}
