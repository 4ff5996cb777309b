package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// densityGuestMiB is the guest size of section e.
const densityGuestMiB = 64

// densityFallbackMiB is the guest size used when densityGuestMiB guests do
// not boot at all.
const densityFallbackMiB = 128

// density is section e: n containers started at once through containerd,
// runc (busybox) first as the baseline, then urunc (hello, 64 MiB guests).
func (b *bench) density() *Section {
	s := &Section{}
	d, err := b.containerd()
	if err != nil {
		s.Skipped = err.Error()
		return s
	}
	t := &Table{Title: fmt.Sprintf("e. %d containers started at once with `ctr run -d`", b.o.nDensity),
		Header: []string{"runtime", "ctr run ok", "printed first line", "RUNNING", "time to all ready (s)",
			"total PSS VMM/ctr+shims (MiB)", "MemAvailable drop, all up (MiB)", "peak drop (MiB)"}}
	rc := b.burst(d, "runc", nil, busyboxRef, []string{"sh", "-c", "echo " + helloLine + "; exec sleep 600"}, s, t)
	var uc *burstResult
	guest := densityGuestMiB
	withLimit, why := d.bootMode(guest)
	if why != "" {
		s.note("%d MiB guests: not started %d times: a single one does not boot (%s); the %d containers use %d MiB guests instead", guest, b.o.nDensity, why, b.o.nDensity, densityFallbackMiB)
		guest = densityFallbackMiB
		withLimit, why = d.bootMode(guest)
	}
	limitText := fmt.Sprintf("memory limit %d MiB", guest+guestOverheadMiB)
	flags := []string{"--runtime", uruncRuntime, "--memory-limit", strconv.Itoa((guest + guestOverheadMiB) << 20)}
	switch {
	case why != "":
		s.note("urunc: %d MiB guests do not boot either: %s", guest, why)
	case b.ctx.Err() != nil:
	case withLimit:
		uc = b.burst(d, "urunc", flags, sleepRef, nil, s, t)
	default:
		s.note("urunc: with memory limit %d MiB: %s; the containers run without a limit, the %d MiB guest set by [vm] default_memory_mib", guest+guestOverheadMiB, d.probe(guest, true), guest)
		limitText = "no memory limit, default_memory_mib"
		restore := d.withGuestMemory(guest)
		uc = b.burst(d, "urunc", flags[:2], sleepRef, nil, s, t)
		restore()
	}
	s.Tables = append(s.Tables, t)
	row := &Row{Name: fmt.Sprintf("density: per-container time to first line, %d at once", b.o.nDensity), Unit: "ms"}
	all := &Row{Name: fmt.Sprintf("density: time until all %d ready", b.o.nDensity), Unit: "ms"}
	if uc != nil {
		row.Urunc, all.Urunc = uc.ready, uc.all
	}
	if rc != nil {
		row.Runc, all.Runc = rc.ready, rc.all
	}
	s.Rows = append(s.Rows, all, row)
	s.note("urunc: hello sleeping (`0 600`), guest %d MiB (%s), Debian cloud vmlinuz; runc: busybox `echo; sleep 600`; a container is ready when `ctr run -d` returned and its log (--log-uri file://) has the first line; a container that stops first is a failure; wait capped at %v", guest, limitText, b.o.densityTimeout)
	return s
}

// burstResult is one runtime's outcome.
type burstResult struct {
	ready *Dist // per container, ms from the common start
	all   *Dist // one sample: until the last was ready (absent if any failed)
}

// burst starts n containers concurrently and measures until all are ready.
func (b *bench) burst(d *ctrd, name string, flags []string, image string, args []string, s *Section, t *Table) *burstResult {
	n := b.o.nDensity
	x := d.detached("e" + name)
	defer x.removeAll()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("e%s-%d", name[:1], i)
	}
	x.ids = append(x.ids, ids...)
	before := memAvailable()
	minAvail := before
	stopSampler := make(chan struct{})
	var samplerDone sync.WaitGroup
	samplerDone.Add(1)
	go func() {
		defer samplerDone.Done()
		for {
			minAvail = math.Min(minAvail, memAvailable())
			select {
			case <-stopSampler:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	var stMu sync.Mutex
	status := map[string]task{}
	go func() { // one `ctr tasks ls` for all waiters
		for {
			ts := d.tasks()
			stMu.Lock()
			status = ts
			stMu.Unlock()
			select {
			case <-stopSampler:
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
	stopped := func(id string) bool {
		stMu.Lock()
		defer stMu.Unlock()
		return status[id].status == "STOPPED"
	}
	readyAt := make([]time.Duration, n)
	errs := make([]string, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	deadline := t0.Add(b.o.densityTimeout)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o := x.start(id, flags, image, args...); !o.ok() {
				errs[i] = "ctr run: " + o.String()
				return
			}
			for !x.printed(id) {
				if stopped(id) && !x.printed(id) {
					errs[i] = "stopped before printing its first line"
					if d.oomKilled(id) {
						errs[i] += " (VMM OOM-killed by the memory cgroup)"
					}
					return
				}
				if time.Now().After(deadline) || !b.sleep(200*time.Millisecond) {
					errs[i] = "no first line in the log in time"
					return
				}
			}
			readyAt[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	allUp := time.Since(t0)
	b.sleep(2 * time.Second)
	after := memAvailable()
	close(stopSampler)
	samplerDone.Wait()
	var ready []float64
	ctrFail, noLine := 0, 0
	for i := range ids {
		switch {
		case strings.HasPrefix(errs[i], "ctr run"):
			ctrFail++
		case errs[i] != "":
			noLine++
		default:
			ready = append(ready, msOf(readyAt[i]))
		}
	}
	running, total := 0, 0.0
	for id, tk := range d.tasks() {
		if strings.HasPrefix(id, "e"+name[:1]+"-") && tk.status == "RUNNING" {
			running++
			total += pss(tk.pid) + pss(firstChild(tk.pid)) + pss(d.shimPid(id))
		}
	}
	failed := n - len(ready)
	res := &burstResult{ready: newDist(ready, failed)}
	allText := fmt.Sprintf("%.1f", allUp.Seconds())
	if failed == 0 {
		res.all = newDist([]float64{msOf(allUp)}, 0)
	} else {
		res.all = newDist(nil, 1)
		allText = fmt.Sprintf("not all: %d/%d after %.0f s", len(ready), n, allUp.Seconds())
	}
	t.Rows = append(t.Rows, []string{name, fmt.Sprintf("%d/%d", n-ctrFail, n), fmt.Sprintf("%d/%d", len(ready), n),
		fmt.Sprintf("%d/%d", running, n), allText, f1(total), f1(before - after), f1(before - minAvail)})
	shown := 0
	for i, e := range errs {
		if e != "" && shown < 5 {
			s.note("%s %s: %s", name, ids[i], e)
			shown++
		}
	}
	if failed > shown {
		s.note("%s: %d failures in all", name, failed)
	}
	b.logf("e. %s: %d/%d ready after %.1f s", name, len(ready), n, allUp.Seconds())
	return res
}
