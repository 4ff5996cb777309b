package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// warmGuestMiB is the guest size of section h: the smallest the project
// kernel runs the hello and httpd apps in reliably here.
const warmGuestMiB = 64

// warm is section h: the project kernel's hello image started cold and
// warm (restored from its VM template), with runc in the same run:
// `urunc run` to the first line, `ctr run --rm`, PSS per idle container
// and density.
func (b *bench) warm() *Section {
	s := &Section{}
	minimal := filepath.Join(minimalKernelDir, "vmlinux")
	if !fileExists(minimal) {
		s.Skipped = "the project kernel is not built: run `make guest-kernel`"
		return s
	}
	size := fmt.Sprintf("[vm]\ndefault_memory_mib = %d\nmin_memory_mib = %d\n\n", warmGuestMiB, warmGuestMiB)
	coldConf := b.baseConfig() + size
	warmConf := coldConf + fmt.Sprintf("[templates]\nenabled = true\ndir = %q\n", b.dir("h-templates"))
	b.warmRun(s, coldConf, warmConf, minimal)
	d, err := b.containerd()
	if err != nil {
		s.note("containerd rows not measured: %v", err)
		return s
	}
	setConf := func(c string) { writeFile(d.conf, c, 0o644) }
	defer setConf(b.baseConfig())
	b.warmCtr(s, d, setConf, coldConf, warmConf)
	b.warmIdle(s, d, setConf, coldConf, warmConf)
	b.warmDensity(s, d, setConf, warmConf)
	s.note("project kernel (make guest-kernel), %d MiB guests, templates in a folder of the bench's own; the template is built by a warm-up run that is not counted", warmGuestMiB)
	return s
}

// warmRun measures `urunc run` to the first line, cold and warm.
func (b *bench) warmRun(s *Section, coldConf, warmConf, kernel string) {
	cold, warm, rc := b.urunc("hc", coldConf), b.urunc("hw", warmConf), b.runc("h")
	bundle := b.appBundle(b.dir("h-app"), kernel, "hello", "0").write()
	plain := b.plainBundle(b.dir("h-plain"), "hello", "0").write()
	first, exit, fail := map[string][]float64{}, map[string][]float64{}, map[string]int{}
	b.timedRun(warm, bundle, "h-build", "build", first, exit, fail, s)
	for i := 0; i < b.o.nBoot && b.ctx.Err() == nil; i++ {
		b.timedRun(cold, bundle, fmt.Sprintf("h-c%d", i), "cold", first, exit, fail, s)
		b.timedRun(warm, bundle, fmt.Sprintf("h-w%d", i), "warm", first, exit, fail, s)
		b.timedRun(rc, plain, fmt.Sprintf("h-r%d", i), "runc", first, exit, fail, s)
	}
	runc, runcExit := newDist(first["runc"], fail["runc"]), newDist(exit["runc"], fail["runc"])
	s.Rows = append(s.Rows,
		&Row{Name: "urunc run, first line, cold", Unit: "ms", Urunc: newDist(first["cold"], fail["cold"]), Runc: runc, Plot: true},
		&Row{Name: "urunc run, first line, warm (template)", Unit: "ms", Urunc: newDist(first["warm"], fail["warm"]), Runc: runc, Plot: true},
		&Row{Name: "  run to exit, cold", Unit: "ms", Urunc: newDist(exit["cold"], fail["cold"]), Runc: runcExit},
		&Row{Name: "  run to exit, warm", Unit: "ms", Urunc: newDist(exit["warm"], fail["warm"]), Runc: runcExit})
	if len(first["build"]) == 1 {
		s.note("the run that built the template reached its first line after %.0f ms", first["build"][0])
	}
	if c, w := newDist(first["cold"], 0), newDist(first["warm"], 0); c.Median > 0 && w.Median > 0 {
		s.note("warm first line is %.0f%% of the cold one (medians)", 100*w.Median/c.Median)
	}
}

// warmCtr measures `ctr run --rm` of the project-kernel image, cold and
// warm, interleaved with runc's busybox `true`.
func (b *bench) warmCtr(s *Section, d *ctrd, setConf func(string), coldConf, warmConf string) {
	var cold, warm, rc []float64
	fails := map[string]int{}
	run := func(key, id, conf string, into *[]float64, counted bool, args ...string) {
		setConf(conf)
		t, err := d.timedCtr(id, args...)
		if err != nil {
			fails[key]++
			s.note("%s %s: %v", key, id, err)
			return
		}
		if counted {
			*into = append(*into, msOf(t.total))
		}
	}
	for i := -1; i < b.o.nCtrd && b.ctx.Err() == nil; i++ { // i = -1: warm-up, builds the template
		run("cold", fmt.Sprintf("h-cc%d", i+1), coldConf, &cold, i >= 0, "run", "--rm", "--runtime", uruncRuntime, helloMinRef, fmt.Sprintf("h-cc%d", i+1))
		run("warm", fmt.Sprintf("h-cw%d", i+1), warmConf, &warm, i >= 0, "run", "--rm", "--runtime", uruncRuntime, helloMinRef, fmt.Sprintf("h-cw%d", i+1))
		run("runc", fmt.Sprintf("h-cr%d", i+1), coldConf, &rc, i >= 0, "run", "--rm", busyboxRef, fmt.Sprintf("h-cr%d", i+1), "true")
	}
	runc := newDist(rc, fails["runc"])
	s.Rows = append(s.Rows,
		&Row{Name: "ctr run --rm, cold", Unit: "ms", Urunc: newDist(cold, fails["cold"]), Runc: runc, Plot: true},
		&Row{Name: "ctr run --rm, warm (template)", Unit: "ms", Urunc: newDist(warm, fails["warm"]), Runc: runc, Plot: true})
}

// warmIdle measures PSS per idle container (VMM + supervisor + shim),
// cold and warm: warm clones share the template's pages they only read.
func (b *bench) warmIdle(s *Section, d *ctrd, setConf func(string), coldConf, warmConf string) {
	t := &Table{Title: fmt.Sprintf("h. idle containers, %d MiB guest, project kernel, medians (MiB)", warmGuestMiB),
		Header: []string{"start", "VMM PSS", "supervisor PSS", "shim PSS", "total PSS", "ready"}}
	for _, mode := range []struct{ name, conf string }{{"cold", coldConf}, {"warm", warmConf}} {
		setConf(mode.conf)
		x := d.detached("h" + mode.name)
		var ids []string
		fail := 0
		for i := 0; i < b.o.nMem && b.ctx.Err() == nil; i++ {
			id := fmt.Sprintf("h%s-%d", mode.name[:1], i)
			x.ids = append(x.ids, id)
			if o := x.start(id, []string{"--runtime", uruncRuntime}, sleepMinRef); !o.ok() {
				fail++
				s.note("%s %s: %s", mode.name, id, o)
				continue
			}
			ids = append(ids, id)
		}
		ready := x.waitReady(ids, time.Now().Add(2*time.Minute))
		b.sleep(3 * time.Second)
		var vm, sup, shim, total []float64
		for id, tk := range d.tasks() {
			if !strings.HasPrefix(id, fmt.Sprintf("h%s-", mode.name[:1])) || tk.status != "RUNNING" {
				continue
			}
			v, su, sh := pss(firstChild(tk.pid)), pss(tk.pid), pss(d.shimPid(id))
			vm, sup, shim, total = append(vm, v), append(sup, su), append(shim, sh), append(total, v+su+sh)
		}
		fail += len(ids) - len(total)
		dist := newDist(total, fail)
		t.Rows = append(t.Rows, []string{mode.name, f1(newDist(vm, 0).Median), f1(newDist(sup, 0).Median),
			f1(newDist(shim, 0).Median), f1(dist.Median), fmt.Sprintf("%d/%d", ready, b.o.nMem)})
		s.Rows = append(s.Rows, &Row{Name: fmt.Sprintf("PSS per idle container, %d MiB guest, %s", warmGuestMiB, mode.name), Unit: "MiB", Urunc: dist})
		x.removeAll()
	}
	s.Tables = append(s.Tables, t)
}

// warmDensity starts nDensity warm containers at once, and as many runc
// ones in the same run.
func (b *bench) warmDensity(s *Section, d *ctrd, setConf func(string), warmConf string) {
	t := &Table{Title: fmt.Sprintf("h. %d containers started at once with `ctr run -d`, warm", b.o.nDensity),
		Header: []string{"runtime", "ctr run ok", "printed first line", "RUNNING", "time to all ready (s)",
			"total PSS VMM/ctr+shims (MiB)", "MemAvailable drop, all up (MiB)", "peak drop (MiB)"}}
	rc := b.burst(d, "runc", nil, busyboxRef, []string{"sh", "-c", "echo " + helloLine + "; exec sleep 600"}, s, t)
	setConf(warmConf)
	uc := b.burst(d, "warm", []string{"--runtime", uruncRuntime}, sleepMinRef, nil, s, t)
	s.Tables = append(s.Tables, t)
	all := &Row{Name: fmt.Sprintf("density, warm: time until all %d ready", b.o.nDensity), Unit: "ms"}
	if uc != nil {
		all.Urunc = uc.all
	}
	if rc != nil {
		all.Runc = rc.all
	}
	s.Rows = append(s.Rows, all)
}
