package urunit

import (
	"errors"
	"syscall"
	"testing"
)

func TestSignalLine(t *testing.T) {
	tests := []struct {
		sig     syscall.Signal
		want    string
		wantErr bool
	}{
		{syscall.SIGTERM, "signal 15\n", false},
		{syscall.SIGHUP, "signal 1\n", false},
		{MaxSignal, "signal 64\n", false},
		{0, "", true},
		{-1, "", true},
		{MaxSignal + 1, "", true},
	}
	for _, tc := range tests {
		got, err := SignalLine(tc.sig)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("SignalLine(%d) = %q, %v; want %q, error %v", int(tc.sig), got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadCommand) {
			t.Errorf("SignalLine(%d) error %v does not wrap ErrBadCommand", int(tc.sig), err)
		}
	}
}

func TestParseControlLine(t *testing.T) {
	tests := []struct {
		line string
		want syscall.Signal // 0: ErrBadCommand
	}{
		{"signal 15\n", syscall.SIGTERM},
		{"signal 15", syscall.SIGTERM},
		{"signal 10\r\n", syscall.SIGUSR1},
		{"signal 1\r", 0}, // fuzz: a bare "\r" is no line ending
		{"signal 64\n", 64},
		{"signal 0\n", 0},
		{"signal 65\n", 0},
		{"signal -1\n", 0},
		{"signal +15\n", 0},
		{"signal 015\n", 0},
		{"signal 15 \n", 0},
		{"signal  15\n", 0},
		{"signal TERM\n", 0},
		{"signal\n", 0},
		{"Signal 15\n", 0},
		{"kill 15\n", 0},
		{"\n", 0},
		{"", 0},
	}
	for _, tc := range tests {
		got, err := ParseControlLine(tc.line)
		if tc.want == 0 {
			if !errors.Is(err, ErrBadCommand) {
				t.Errorf("ParseControlLine(%q) = %d, %v; want ErrBadCommand", tc.line, int(got), err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseControlLine(%q) = %d, %v; want %d", tc.line, int(got), err, int(tc.want))
		}
	}
}

func TestSignalLineRoundTrip(t *testing.T) {
	for sig := syscall.Signal(1); sig <= MaxSignal; sig++ {
		line, err := SignalLine(sig)
		if err != nil {
			t.Fatal(err)
		}
		if len(line) > MaxControlLine {
			t.Fatalf("SignalLine(%d) is %d bytes, over MaxControlLine", int(sig), len(line))
		}
		if got, err := ParseControlLine(line); err != nil || got != sig {
			t.Errorf("ParseControlLine(%q) = %d, %v; want %d", line, int(got), err, int(sig))
		}
	}
}
