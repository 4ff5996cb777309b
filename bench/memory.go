package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// guestOverheadMiB is urunc's default [qemu] memory_overhead_mib: the
// memory limit is guest + this (docs/configuration.md).
const guestOverheadMiB = 64

// memory is section d: PSS of VMM + supervisor + shim per idle unikernel container for
// two guest sizes, and of container + shim for busybox `sleep` under runc.
func (b *bench) memory() *Section {
	s := &Section{}
	d, err := b.containerd()
	if err != nil {
		s.Skipped = err.Error()
		return s
	}
	t := &Table{Title: "d. idle containers, medians over the containers (MiB)",
		Header: []string{"runtime", "guest", "memory limit", "QEMU -m", "VMM / container PSS", "supervisor PSS", "shim PSS", "total PSS", "ready"}}
	rc := b.idleRunc(d, s, t)
	for _, guest := range []int{64, 128} {
		if b.ctx.Err() != nil {
			break
		}
		name := fmt.Sprintf("PSS VMM+shim per idle container, guest %d MiB", guest)
		withLimit, why := d.bootMode(guest)
		switch {
		case why != "":
			s.note("guest %d MiB: not measured: %s", guest, why)
			s.Rows = append(s.Rows, &Row{Name: name + " (does not boot)", Unit: "MiB", Urunc: newDist(nil, 1), Runc: rc})
			continue
		case !withLimit:
			s.note("guest %d MiB with memory limit %d MiB (guest + %d MiB): %s; measured instead without a limit, the guest sized by [vm] default_memory_mib = %d",
				guest, guest+guestOverheadMiB, guestOverheadMiB, d.probe(guest, true), guest)
			name += " (no limit)"
		}
		u := b.idleUrunc(d, guest, withLimit, s, t)
		s.Rows = append(s.Rows, &Row{Name: name, Unit: "MiB", Urunc: u, Runc: rc})
	}
	s.Tables = append(s.Tables, t)
	s.note("started one by one with `ctr run -d` (hello sleeping: `0 600`), measured once every container printed its line and 3 s passed; runc column: busybox `sleep 600` container process + its shim")
	return s
}

// idleUrunc starts the unikernel containers of one guest size, measures
// them and removes them.
func (b *bench) idleUrunc(d *ctrd, guest int, withLimit bool, s *Section, t *Table) *Dist {
	x := d.detached(fmt.Sprintf("d%d", guest))
	defer x.removeAll()
	limit := (guest + guestOverheadMiB) << 20
	flags := []string{"--runtime", uruncRuntime, "--memory-limit", strconv.Itoa(limit)}
	limitText := fmt.Sprintf("%d MiB", limit>>20)
	if !withLimit {
		flags, limitText = flags[:2], "none"
		defer d.withGuestMemory(guest)()
	}
	var ids []string
	fail := 0
	for i := 0; i < b.o.nMem && b.ctx.Err() == nil; i++ {
		id := fmt.Sprintf("d%d-%d", guest, i)
		x.ids = append(x.ids, id)
		if o := x.start(id, flags, sleepRef); !o.ok() {
			fail++
			s.note("urunc %s: %s", id, o)
			continue
		}
		ids = append(ids, id)
	}
	ready := x.waitReady(ids, time.Now().Add(2*time.Minute))
	b.sleep(3 * time.Second)
	var vmm, sup, shim, total []float64
	mflag := ""
	for id, tk := range d.tasks() {
		if !strings.HasPrefix(id, fmt.Sprintf("d%d-", guest)) || tk.status != "RUNNING" {
			continue
		}
		// A Linux guest's init is urunc's supervisor; the VMM its child.
		vmmPid := firstChild(tk.pid)
		v, su, sh := pss(vmmPid), pss(tk.pid), pss(d.shimPid(id))
		vmm, sup, shim, total = append(vmm, v), append(sup, su), append(shim, sh), append(total, v+su+sh)
		mflag = argAfter(argvOf(vmmPid), "-m")
	}
	fail += len(ids) - len(total)
	dist := newDist(total, fail)
	t.Rows = append(t.Rows, []string{"urunc", fmt.Sprintf("%d MiB", guest), limitText, orDash(mflag),
		f1(newDist(vmm, 0).Median), f1(newDist(sup, 0).Median), f1(newDist(shim, 0).Median), f1(dist.Median),
		fmt.Sprintf("%d/%d", ready, b.o.nMem)})
	return dist
}

// idleRunc is the runc baseline: busybox sleep containers.
func (b *bench) idleRunc(d *ctrd, s *Section, t *Table) *Dist {
	x := d.detached("drunc")
	defer x.removeAll()
	var ids []string
	fail := 0
	for i := 0; i < b.o.nMem && b.ctx.Err() == nil; i++ {
		id := fmt.Sprintf("dr-%d", i)
		x.ids = append(x.ids, id)
		if o := x.start(id, nil, busyboxRef, "sh", "-c", "echo "+helloLine+"; exec sleep 600"); !o.ok() {
			fail++
			s.note("runc %s: %s", id, o)
			continue
		}
		ids = append(ids, id)
	}
	ready := x.waitPrinted(ids, time.Now().Add(time.Minute))
	b.sleep(3 * time.Second)
	var ctr, shim, total []float64
	for id, tk := range d.tasks() {
		if !strings.HasPrefix(id, "dr-") || tk.status != "RUNNING" {
			continue
		}
		c, sh := pss(tk.pid), pss(d.shimPid(id))
		ctr, shim, total = append(ctr, c), append(shim, sh), append(total, c+sh)
	}
	fail += len(ids) - len(total)
	dist := newDist(total, fail)
	t.Rows = append(t.Rows, []string{"runc", "—", "—", "—", f1(newDist(ctr, 0).Median), "—", f1(newDist(shim, 0).Median), f1(dist.Median), fmt.Sprintf("%d/%d", ready, b.o.nMem)})
	return dist
}

// firstChild is pid's first child, or 0 for none. Each thread lists the
// children it forked, and a Go program forks from any of its threads.
func firstChild(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, task := range tasks {
		data, _ := os.ReadFile(task)
		if f := strings.Fields(string(data)); len(f) > 0 {
			return atoi(f[0])
		}
	}
	return 0
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

// bootMode tells how a guest of this size can run: with the memory limit
// guest + overhead, or else without a limit (default_memory_mib), or not at
// all (why != "").
func (d *ctrd) bootMode(guest int) (withLimit bool, why string) {
	if d.probe(guest, true) == "" {
		return true, ""
	}
	if w := d.probe(guest, false); w != "" {
		return false, fmt.Sprintf("with memory limit %d MiB: %s; without a limit: %s", guest+guestOverheadMiB, d.probe(guest, true), w)
	}
	return false, ""
}

// probe starts one unikernel container with a guest of this size, with
// the memory limit guest + overhead or without a limit, and tells why it
// did not reach its first line ("" when it did). Answers are kept.
func (d *ctrd) probe(guest int, withLimit bool) string {
	d.limitMu.Lock()
	defer d.limitMu.Unlock()
	key := fmt.Sprintf("%d-%v", guest, withLimit)
	if why, ok := d.probes[key]; ok {
		return why
	}
	id := fmt.Sprintf("p%d%s", guest, map[bool]string{true: "l", false: "n"}[withLimit])
	x := d.detached(id)
	defer x.removeAll()
	x.ids = append(x.ids, id)
	flags := []string{"--runtime", uruncRuntime}
	if withLimit {
		flags = append(flags, "--memory-limit", strconv.Itoa((guest+guestOverheadMiB)<<20))
	} else {
		defer d.withGuestMemory(guest)()
	}
	why := ""
	if o := x.start(id, flags, sleepRef); !o.ok() {
		why = "ctr run -d: " + o.String()
	} else if x.waitReady([]string{id}, time.Now().Add(2*time.Minute)) == 0 {
		why = "QEMU exited 0 without any console output (the guest reset during early boot; likely too little memory for the Debian kernel and the initrd)"
		if d.oomKilled(id) {
			why = "the memory cgroup's OOM killer killed QEMU during boot (under TCG QEMU's translation cache does not fit in the " + strconv.Itoa(guestOverheadMiB) + " MiB overhead)"
		} else if !x.stopped(id) {
			why = "no first line within 2 minutes"
		}
	}
	d.probes[key] = why
	return why
}
