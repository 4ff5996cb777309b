package lifecycle

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/trace"
)

// step is one named phase of create: do makes something, undo removes it.
type step struct {
	name string
	// mark, when set, is the trace phase recorded once the step is done.
	mark string
	do   func() error
	undo func() // nil when the step leaves nothing to remove
}

// stepRunner runs steps in order, logging each with its duration at debug
// level, and undoes the steps done, in reverse, when one fails or when
// asked to (a foreground run that is over).
type stepRunner struct {
	log  *logrus.Entry
	tr   *trace.Tracer
	done []step
}

func (r *Runtime) newStepRunner(id string) *stepRunner {
	return &stepRunner{log: r.Log.WithField("id", id), tr: r.tracer(id)}
}

// run runs steps; on failure it undoes every step done so far and returns
// the error with the failed step's name.
func (sr *stepRunner) run(steps ...step) error {
	for _, s := range steps {
		t0 := time.Now()
		err := s.do()
		log := sr.log.WithFields(logrus.Fields{"step": s.name, "took": time.Since(t0).Round(time.Microsecond).String()})
		if err != nil {
			log.WithError(err).Debug("create step failed: undoing the steps done")
			sr.undo()
			return fmt.Errorf("%s: %w", s.name, err)
		}
		log.Debug("create step done")
		if s.mark != "" {
			sr.tr.Mark(s.mark)
		}
		sr.done = append(sr.done, s)
		fault.Point(fault.CreateStep(s.name))
	}
	return nil
}

// undo undoes the steps done, last first; each undo logs its own failures.
func (sr *stepRunner) undo() {
	for i := len(sr.done) - 1; i >= 0; i-- {
		if s := sr.done[i]; s.undo != nil {
			sr.log.WithField("step", s.name).Debug("undo create step")
			s.undo()
		}
	}
	sr.done = nil
}
