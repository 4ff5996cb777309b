package lifecycle

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/urunc-runtime/urunc/internal/trace"
)

func TestStepRunner(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name     string
		failAt   int // index of the failing step, -1 for none
		wantUndo string
	}{
		{"all done, nothing undone", -1, ""},
		{"first fails, nothing to undo", 0, ""},
		{"third fails, second and first undone in reverse", 2, "b a "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ran, undone strings.Builder
			mk := func(i int, name string) step {
				return step{name: "step " + name, do: func() error {
					ran.WriteString(name + " ")
					if i == c.failAt {
						return boom
					}
					return nil
				}, undo: func() { undone.WriteString(name + " ") }}
			}
			log := logrus.New()
			log.SetOutput(io.Discard)
			sr := &stepRunner{log: logrus.NewEntry(log), tr: trace.New("", "x")}
			err := sr.run(mk(0, "a"), mk(1, "b"), mk(2, "c"))
			if c.failAt < 0 {
				if err != nil || ran.String() != "a b c " {
					t.Fatalf("run: %v, ran %q", err, ran.String())
				}
				sr.undo()
				if undone.String() != "c b a " {
					t.Errorf("undo after success: %q, want every step, last first", undone.String())
				}
				return
			}
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "step "+string(rune('a'+c.failAt))+": ") {
				t.Errorf("error %v, want boom prefixed with the failed step's name", err)
			}
			if undone.String() != c.wantUndo {
				t.Errorf("undone %q, want %q", undone.String(), c.wantUndo)
			}
			sr.undo()
			if undone.String() != c.wantUndo {
				t.Errorf("a second undo undid again: %q", undone.String())
			}
		})
	}
}
