package agent

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	big := bytes.Repeat([]byte("x"), MaxPayload+10)
	if _, err := (Writer{W: &b, Type: FrameStdout}).Write(big); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for b.Len() > 0 {
		ft, p, err := ReadFrame(&b, make([]byte, MaxPayload))
		if err != nil || ft != FrameStdout || len(p) > MaxPayload {
			t.Fatalf("ReadFrame = %d, %d bytes, %v", ft, len(p), err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, big) {
		t.Errorf("Writer split and ReadFrame joined %d bytes, want %d", len(got), len(big))
	}
	if err := WriteFrame(&b, FrameStdout, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("WriteFrame of %d bytes: %v, want ErrFrameTooLarge", len(big), err)
	}
	_, _, err := ReadFrame(bytes.NewReader([]byte{1, 0, 1, 0, 1}), nil)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ReadFrame of a 65537-byte header: %v, want ErrFrameTooLarge", err)
	}
}

func TestRequestCheck(t *testing.T) {
	cases := []struct {
		name string
		q    Request
		want string // "" for valid
	}{
		{"wait", Request{Version: Version, Op: OpWait}, ""},
		{"signal", Request{Version: Version, Op: OpSignal, Signal: 15}, ""},
		{"exec", Request{Version: Version, Op: OpExec, Process: &Process{Args: []string{"sh"}}}, ""},
		{"other version", Request{Version: Version + 1, Op: OpWait}, "protocol version 2"},
		{"unknown op", Request{Version: Version, Op: "reboot"}, `unknown op "reboot"`},
		{"signal 0", Request{Version: Version, Op: OpSignal}, "signal 0 out of range"},
		{"signal 65", Request{Version: Version, Op: OpSignal, Signal: 65}, "signal 65 out of range"},
		{"exec without process", Request{Version: Version, Op: OpExec}, "exec needs a process"},
		{"exec with empty args", Request{Version: Version, Op: OpExec, Process: &Process{Args: []string{""}}}, "exec needs a process"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.Check()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want ErrBadRequest with %q", err, tc.want)
			}
		})
	}
}

// FuzzRequest reads what a host (or anything on the channel) could send
// as a stream's first frame: never a panic, never a payload over the cap.
func FuzzRequest(f *testing.F) {
	var b bytes.Buffer
	_ = WriteJSON(&b, FrameRequest, Request{Version: Version, Op: OpExec, Process: &Process{Args: []string{"sh"}}})
	f.Add(b.Bytes())
	f.Add([]byte{1, 0, 0, 0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var q Request
		if err := ReadJSON(bytes.NewReader(data), FrameRequest, &q); err != nil {
			return
		}
		_ = q.Check()
	})
}
