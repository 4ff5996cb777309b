package main

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

func TestServeControl(t *testing.T) {
	long := strings.Repeat("x", 3*urunit.MaxControlLine) + "\n"
	tests := []struct {
		name      string
		input     string
		want      []os.Signal
		wantWarns int
	}{
		{"one signal", "signal 15\n", []os.Signal{syscall.SIGTERM}, 0},
		{"several", "signal 10\nsignal 12\r\nsignal 15\n", []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM}, 0},
		{"unknown lines", "hello\nsignal 99\n\nsignal 1\n", []os.Signal{syscall.SIGHUP}, 3},
		{"long line skipped", long + "signal 2\n", []os.Signal{syscall.SIGINT}, 1},
		{"unterminated line at EOF", "signal 15", nil, 0},
		{"empty", "", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := make(chan os.Signal, 16)
			var warn, ack bytes.Buffer
			// One byte per read, as a serial port may deliver them.
			serveControl(iotest.OneByteReader(strings.NewReader(tc.input)), &ack, ch, &warn)
			close(ch)
			var got []os.Signal
			for sig := range ch {
				got = append(got, sig)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("signals = %v, want %v", got, tc.want)
			}
			if want := strings.Repeat("ok\n", len(tc.want)); ack.String() != want {
				t.Errorf("answers %q, want %q", ack.String(), want)
			}
			if n := strings.Count(warn.String(), "\n"); n != tc.wantWarns {
				t.Errorf("%d warning lines, want %d:\n%s", n, tc.wantWarns, warn.String())
			}
		})
	}
}

func TestServeControlReadError(t *testing.T) {
	ch := make(chan os.Signal, 1)
	var warn bytes.Buffer
	serveControl(iotest.ErrReader(syscall.EIO), io.Discard, ch, &warn)
	if !strings.Contains(warn.String(), "read control channel") {
		t.Errorf("warning = %q, want it to report the read error", warn.String())
	}
}

func TestOpenControlAbsent(t *testing.T) {
	f, err := openControl("/nonexistent/ttyS1")
	if f != nil || err != nil {
		t.Errorf("openControl(missing) = %v, %v; want nil, nil", f, err)
	}
}
