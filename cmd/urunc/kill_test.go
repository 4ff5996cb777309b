package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	cases := []struct {
		in      string
		want    unix.Signal
		wantErr bool
	}{
		{"", unix.SIGTERM, false},
		{"9", unix.SIGKILL, false},
		{"KILL", unix.SIGKILL, false},
		{"sigterm", unix.SIGTERM, false},
		{"SIGHUP", unix.SIGHUP, false},
		{"0", 0, true},
		{"65", 0, true},
		{"SIGNOPE", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSignal(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseSignal(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
