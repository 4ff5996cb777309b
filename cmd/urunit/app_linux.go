package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// reapGrace bounds how long urunit reaps leftover processes after the
// application has exited and the rest were sent SIGKILL.
const reapGrace = time.Second

var (
	errNotFound      = errors.New("executable file not found")
	errNotExecutable = errors.New("file is not executable")
)

// startApp starts the application described by cfg as a child sharing
// urunit's stdin, stdout and stderr (the console), and returns its pid.
func startApp(cfg urunit.Config) (int, error) {
	path, err := lookPath(cfg.Args[0], cfg.Cwd, cfg.Env)
	if err != nil {
		return 0, err
	}
	attr := &syscall.ProcAttr{
		Dir:   cfg.Cwd,
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: cfg.UID, Gid: cfg.GID, Groups: []uint32{}},
		},
	}
	pid, err := syscall.ForkExec(path, cfg.Args, attr)
	if err != nil {
		return 0, fmt.Errorf("exec %q: %w", path, err)
	}
	return pid, nil
}

// lookPath finds the executable for name the way execvp does, using the
// PATH in env. Names containing a slash are taken relative to cwd.
func lookPath(name, cwd string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(cwd, path)
		}
		return path, checkExecutable(path)
	}
	pathEnv, _ := lookupEnv(env, "PATH")
	lastErr := fmt.Errorf("%w in PATH %q", errNotFound, pathEnv)
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" || !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		path := filepath.Join(dir, name)
		err := checkExecutable(path)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			lastErr = err
		}
	}
	return "", lastErr
}

// checkExecutable reports whether path is a regular file with an execute bit.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%q: %w", path, errNotExecutable)
	}
	return nil
}

// waitApp waits for the application to exit (done gives its status, see
// reaper.start) and returns its exit status. Then it kills whatever is left, exec'd
// processes included, and reaps it, as a container runtime does when a
// container's main process exits.
func waitApp(r *reaper, done <-chan int) int {
	status := <-done
	r.stop()
	_ = unix.Kill(-1, unix.SIGKILL) // everything but PID 1
	r.waitEmpty(time.Now().Add(reapGrace))
	return status
}

// setHostname gives the guest the container's host name, if it has one.
func setHostname(name string) error {
	if name == "" {
		return nil
	}
	return unix.Sethostname([]byte(name))
}
