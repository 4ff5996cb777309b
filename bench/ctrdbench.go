package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ctrdRun is section c: `ctr run --rm` of the hello unikernel image under
// urunc against busybox `true` under runc, interleaved.
func (b *bench) ctrdRun() *Section {
	s := &Section{}
	d, err := b.containerd()
	if err != nil {
		s.Skipped = err.Error()
		return s
	}
	var uT, uFirst, rT []float64
	var uFail, rFail int
	for i := -1; i < b.o.nCtrd && b.ctx.Err() == nil; i++ { // i = -1: warm-up
		id := fmt.Sprintf("c-u%d", i+1)
		t, err := d.timedCtr(id, "run", "--rm", "--runtime", uruncRuntime, helloRef, id)
		if err != nil {
			uFail++
			s.note("urunc %s: %v", id, err)
		} else if i >= 0 {
			uT = append(uT, msOf(t.total))
			uFirst = append(uFirst, msOf(t.marker))
		}
		id = fmt.Sprintf("c-r%d", i+1)
		t, err = d.timedCtr(id, "run", "--rm", busyboxRef, id, "true")
		if err != nil {
			rFail++
			s.note("runc %s: %v", id, err)
		} else if i >= 0 {
			rT = append(rT, msOf(t.total))
		}
	}
	s.Rows = append(s.Rows,
		&Row{Name: "ctr run --rm (to exit)", Unit: "ms", Urunc: newDist(uT, uFail), Runc: newDist(rT, rFail), Plot: true},
		&Row{Name: "  ctr run --rm, to the guest's first line", Unit: "ms", Urunc: newDist(uFirst, uFail)})
	s.note("urunc: hello image packed with urunc-pack (Debian cloud vmlinuz), app exits 0 at once; runc: busybox image, `true`; one warm-up pair not counted; containerd %s with CRI disabled", d.dir)
	return s
}

func msOf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// timedCtr runs one foreground ctr command with its stdout timestamped;
// a failed run's container is removed.
func (d *ctrd) timedCtr(id string, args ...string) (timed, error) {
	ctx, cancel := context.WithTimeout(d.b.ctx, time.Minute)
	defer cancel()
	c := d.ctrCmd(newCmd(ctx, filepath.Join(d.b.o.tools, "ctr")), args...)
	t, err := runTimed(c, helloLine)
	if err == nil && t.code != 0 {
		err = fmt.Errorf("exit %d: %s", t.code, strings.TrimSpace(t.stderr))
	}
	if err == nil && strings.Contains(strings.Join(args, " "), uruncRuntime) && t.marker == 0 {
		err = fmt.Errorf("no %q in stdout %q", helloLine, tail(t.stdout))
	}
	if err != nil {
		d.remove([]string{id})
	}
	return t, err
}

// detached starts containers with `ctr run -d`, their console in a log
// file, and removes them at cleanup.
type detached struct {
	d    *ctrd
	logs string
	ids  []string
}

func (d *ctrd) detached(tag string) *detached {
	x := &detached{d: d, logs: d.b.dir("logs-" + tag)}
	d.b.defer_("containers "+tag, func() { d.remove(x.ids) })
	return x
}

// start runs `ctr run -d`; extra are ctr run flags, then image and args.
func (x *detached) start(id string, flags []string, image string, args ...string) out {
	all := append([]string{"run", "-d", "--log-uri", "file://" + x.log(id)}, flags...)
	all = append(append(all, image, id), args...)
	return x.d.ctr(x.d.b.o.densityTimeout, all...)
}

func (x *detached) log(id string) string { return filepath.Join(x.logs, id+".log") }

// printed tells whether container id's log has the hello line.
func (x *detached) printed(id string) bool {
	data, _ := os.ReadFile(x.log(id))
	return strings.Contains(string(data), helloLine)
}

// waitPrinted polls until every id printed its line or the deadline passed,
// and returns how many did.
func (x *detached) waitPrinted(ids []string, deadline time.Time) int {
	for {
		n := 0
		for _, id := range ids {
			if x.printed(id) {
				n++
			}
		}
		if n == len(ids) || time.Now().After(deadline) || !x.d.b.sleep(200*time.Millisecond) {
			return n
		}
	}
}

// waitReady polls until every id printed its line or stopped, or the
// deadline passed, and returns how many printed.
func (x *detached) waitReady(ids []string, deadline time.Time) int {
	for i := 0; ; i++ {
		n, done := 0, 0
		var ts map[string]task
		if i%10 == 9 {
			ts = x.d.tasks()
		}
		for _, id := range ids {
			switch {
			case x.printed(id):
				n++
				done++
			case ts != nil && ts[id].status != "RUNNING":
				done++
			}
		}
		if done == len(ids) || time.Now().After(deadline) || !x.d.b.sleep(200*time.Millisecond) {
			return n
		}
	}
}

// stopped tells whether container id's task is not running.
func (x *detached) stopped(id string) bool { return x.d.tasks()[id].status != "RUNNING" }

// removeAll deletes the containers now instead of at cleanup.
func (x *detached) removeAll() {
	x.d.remove(x.ids)
	x.ids = nil
}

// pss is /proc/<pid>/smaps_rollup's Pss in MiB, 0 when unreadable.
func pss(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			return float64(atoi(f[1])) / 1024
		}
	}
	return 0
}

// memAvailable is /proc/meminfo's MemAvailable in MiB.
func memAvailable() float64 {
	v := grepField("/proc/meminfo", "MemAvailable")
	return float64(atoi(strings.Fields(v + " 0")[0])) / 1024
}
