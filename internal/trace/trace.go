// Package trace records when each phase of a container's start happens, as
// JSON lines appended to a file, so that anyone can see where start time
// goes. Timestamps are CLOCK_MONOTONIC nanoseconds, comparable between the
// processes that write to the same file (urunc's verbs and the launcher).
// A nil *Tracer records nothing and costs nothing.
package trace

import (
	"encoding/json"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// EnvVar enables tracing for urunc and everything that starts it (the shim
// inherits containerd's environment).
const EnvVar = "URUNC_TRACE"

// Tracer appends phase records for one container.
type Tracer struct {
	path string
	id   string
}

// Record is one line of the trace file.
type Record struct {
	ID    string    `json:"id"`
	Phase string    `json:"phase"`
	Mono  int64     `json:"monoNs"` // CLOCK_MONOTONIC
	Wall  time.Time `json:"wall"`
	Pid   int       `json:"pid"`
}

// New returns a tracer writing to path, or nil when path is empty.
func New(path, id string) *Tracer {
	if path == "" {
		return nil
	}
	return &Tracer{path: path, id: id}
}

// Now is the monotonic clock the records use.
func Now() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Mark records that phase happened now. Tracing never fails a container:
// a record that cannot be written is dropped.
func (t *Tracer) Mark(phase string) {
	if t == nil {
		return
	}
	line, err := json.Marshal(Record{ID: t.id, Phase: phase, Mono: Now(), Wall: time.Now(), Pid: os.Getpid()})
	if err != nil {
		return
	}
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n')) // one write: O_APPEND keeps lines whole
}
