package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// tracePhases are urunc's trace phases in the order they happen.
var tracePhases = []string{"create", "bundle-parsed", "planned", "vm-prepared", "container-created",
	"start", "network-ready", "started", "vmm-exec"}

// lifecycle is section a: urunc create+start+delete of a unikernel bundle
// whose VMM is /usr/bin/true, against runc's of busybox `true`, interleaved.
func (b *bench) lifecycle() *Section {
	s := &Section{}
	u := b.urunc("a", b.baseConfig()+"[qemu]\nbinary = \"/usr/bin/true\"\n")
	rc := b.runc("a")
	uk := b.appBundle(b.dir("a-uk"), b.o.kernel, "hello").write()
	bbx, err := busyboxBundle(b.dir("a-bb"), "/bin/true")
	if err != nil {
		s.Skipped = fmt.Sprintf("busybox bundle: %v (install busybox-static)", err)
		return s
	}
	bb := bbx.write()
	var uT, rT []float64
	var uPart, rPart [3][]float64
	var uFail, rFail int
	for i := -1; i < b.o.nLifecycle && b.ctx.Err() == nil; i++ { // i = -1: warm-up, not counted
		if d, parts, err := b.cycle(u, uk, fmt.Sprintf("a-u%d", i+1)); err != nil {
			uFail++
			s.note("urunc run %d: %v", i+1, err)
		} else if i >= 0 {
			uT = append(uT, d)
			addParts(&uPart, parts)
		}
		if d, parts, err := b.cycle(rc, bb, fmt.Sprintf("a-r%d", i+1)); err != nil {
			rFail++
			s.note("runc run %d: %v", i+1, err)
		} else if i >= 0 {
			rT = append(rT, d)
			addParts(&rPart, parts)
		}
	}
	s.Rows = append(s.Rows, &Row{Name: "create+start+delete", Unit: "ms",
		Urunc: newDist(uT, uFail), Runc: newDist(rT, rFail), Plot: true})
	for i, verb := range []string{"create", "start", "delete --force"} {
		s.Rows = append(s.Rows, &Row{Name: "  " + verb, Unit: "ms", Urunc: newDist(uPart[i], 0), Runc: newDist(rPart[i], 0)})
	}
	s.note("VMM = /usr/bin/true (urunc plans the QEMU VM, builds the initrd, the launcher execs `true`); runc runs busybox `true`; one warm-up pair not counted; runs interleaved")
	if t, err := b.traceOnce(u, uk); err != nil {
		s.note("trace: %v", err)
	} else {
		s.Tables = append(s.Tables, t)
	}
	return s
}

func addParts(dst *[3][]float64, parts [3]float64) {
	for i := range parts {
		dst[i] = append(dst[i], parts[i])
	}
}

// cycle runs create, start, delete --force and returns the total and each
// verb's time in ms.
func (b *bench) cycle(r *oci, bundle, id string) (float64, [3]float64, error) {
	var parts [3]float64
	steps := [][]string{{"create", "--bundle", bundle, id}, {"start", id}, {"delete", "--force", id}}
	for i, args := range steps {
		o := r.do(time.Minute, args...)
		parts[i] = float64(o.dur.Nanoseconds()) / 1e6
		if !o.ok() {
			r.do(time.Minute, "delete", "--force", id)
			return 0, parts, fmt.Errorf("%s %s: %s", r.name, args[0], o)
		}
	}
	r.forget(id)
	return parts[0] + parts[1] + parts[2], parts, nil
}

// traceOnce runs one traced create+start, waits for the launcher's
// vmm-exec record and returns the phase breakdown.
func (b *bench) traceOnce(u *oci, bundle string) (*Table, error) {
	file := filepath.Join(b.work, "a-trace.jsonl")
	id := "a-trace"
	tu := b.newOCI("urunc", u.binary, append(append([]string{}, u.global...), "--trace", file)...)
	for _, args := range [][]string{{"create", "--bundle", bundle, id}, {"start", id}} {
		if o := tu.do(time.Minute, args...); !o.ok() {
			return nil, fmt.Errorf("%s: %s", args[0], o)
		}
	}
	if st, err := u.state(id); err == nil && st.Annotations["com.urunc.vm.accel"] != "" {
		b.accel = st.Annotations["com.urunc.vm.accel"]
	}
	recs := map[string]int64{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		recs = readTrace(file)
		if _, ok := recs["vmm-exec"]; ok {
			break
		}
	}
	u.do(time.Minute, "delete", "--force", id)
	u.forget(id)
	c, ok := recs["create"]
	if !ok {
		return nil, fmt.Errorf("no create record in %s", file)
	}
	t := &Table{Title: "a. urunc phases of one traced container (ms after `create` began; --trace)",
		Header: []string{"phase", "ms since create", "ms since previous"}}
	prev := c
	for _, p := range tracePhases {
		m, ok := recs[p]
		if !ok {
			t.Rows = append(t.Rows, []string{p, "—", "not recorded"})
			continue
		}
		t.Rows = append(t.Rows, []string{p, fmt.Sprintf("%.1f", ms(float64(m-c))), fmt.Sprintf("%.1f", ms(float64(m-prev)))})
		prev = m
	}
	return t, nil
}

// readTrace returns the first record of each phase (monotonic ns).
func readTrace(path string) map[string]int64 {
	recs := map[string]int64{}
	f, err := os.Open(path)
	if err != nil {
		return recs
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Phase string `json:"phase"`
			Mono  int64  `json:"monoNs"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			if _, seen := recs[r.Phase]; !seen {
				recs[r.Phase] = r.Mono
			}
		}
	}
	return recs
}
