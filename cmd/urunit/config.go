package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// defaultPath is the PATH given to the application when its Config has none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var (
	errNoArgs      = errors.New("no args")
	errRelativeCwd = errors.New("cwd is not absolute")
)

// loadConfig reads and validates the Config at path.
func loadConfig(path string) (urunit.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return urunit.Config{}, err
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return urunit.Config{}, fmt.Errorf("parse %q: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes a Config strictly (unknown fields are errors), fills in
// defaults and validates it.
func parseConfig(data []byte) (urunit.Config, error) {
	var cfg urunit.Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return urunit.Config{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return urunit.Config{}, errors.New("trailing data after config object")
	}
	if len(cfg.Args) == 0 || cfg.Args[0] == "" {
		return urunit.Config{}, errNoArgs
	}
	if cfg.Cwd == "" {
		cfg.Cwd = "/"
	}
	if !filepath.IsAbs(cfg.Cwd) {
		return urunit.Config{}, fmt.Errorf("%w: %q", errRelativeCwd, cfg.Cwd)
	}
	for _, m := range cfg.Mounts {
		if m.Tag == "" || !filepath.IsAbs(m.Target) {
			return urunit.Config{}, fmt.Errorf("mount %+v: needs a tag and an absolute target", m)
		}
	}
	cfg.Env = withDefaultPath(cfg.Env)
	return cfg, nil
}

// withDefaultPath returns env with defaultPath appended when it sets no PATH.
func withDefaultPath(env []string) []string {
	if _, ok := lookupEnv(env, "PATH"); ok {
		return env
	}
	return append(env[:len(env):len(env)], defaultPath)
}

// lookupEnv returns the value of the last assignment to key in env.
func lookupEnv(env []string, key string) (string, bool) {
	value, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			value, found = v, true
		}
	}
	return value, found
}
