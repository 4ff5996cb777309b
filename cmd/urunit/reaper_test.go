package main

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func startShell(t *testing.T, r *reaper, script string) (int, <-chan int) {
	t.Helper()
	pid, done, err := r.start(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid, done
}

func TestReaper(t *testing.T) {
	tests := []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"kill -TERM $$", 143},
		{"kill -KILL $$", 137},
	}
	r := testReaper()
	for _, tc := range tests {
		t.Run(tc.script, func(t *testing.T) {
			pid, done := startShell(t, r, tc.script)
			select {
			case got := <-done:
				if got != tc.want {
					t.Errorf("status %d, want %d", got, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("not reaped")
			}
			// Reaped: its pid may be another process's by now.
			if err := r.signal(pid, syscall.SIGTERM, false); !errors.Is(err, errReaped) {
				t.Errorf("signal after reaping: %v, want errReaped", err)
			}
		})
	}
}

// TestReaperSignal: a registered child gets the signal; stop refuses new
// children.
func TestReaperSignal(t *testing.T) {
	r := newReaper(false)
	pid, done := startShell(t, r, "exec sleep 30")
	if err := r.signal(pid, syscall.SIGUSR2, false); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != 128+int(syscall.SIGUSR2) {
		t.Errorf("status %d, want %d", got, 128+int(syscall.SIGUSR2))
	}
	if !r.waitEmpty(time.Now().Add(time.Second)) {
		t.Error("children left after the only one was reaped")
	}
	r.stop()
	if _, _, err := r.start(func() (int, error) { t.Fatal("forked after stop"); return 0, nil }); !errors.Is(err, errStopped) {
		t.Errorf("start after stop: %v, want errStopped", err)
	}
}

// TestReaperForkError: a failed fork registers nothing.
func TestReaperForkError(t *testing.T) {
	r := newReaper(false)
	_, _, err := r.start(func() (int, error) { return 0, syscall.ENOENT })
	if !errors.Is(err, syscall.ENOENT) || len(r.waiting) != 0 {
		t.Errorf("start = %v with %d waiting", err, len(r.waiting))
	}
}

// TestDroppedSignals: urunit survives the fault signals when a process
// sends them (as the application does to its process group, urunit's).
func TestDroppedSignals(t *testing.T) {
	s := catchSignals()
	defer s.stop()
	for _, sig := range droppedSignals {
		if err := syscall.Kill(syscall.Getpid(), sig.(syscall.Signal)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // a crash would have come by now
}
