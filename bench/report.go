package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Results is everything one run measured; it is the JSON file.
type Results struct {
	Machine     Machine    `json:"machine"`
	Started     time.Time  `json:"started"`
	WallSeconds float64    `json:"wallSeconds"`
	Sections    []*Section `json:"sections"`
}

// Machine is where the run happened.
type Machine struct {
	Nproc     int    `json:"nproc"`
	CPU       string `json:"cpu"`
	Kernel    string `json:"kernel"`
	MemTotal  string `json:"memTotal"`
	Accel     string `json:"accel"`
	QEMU      string `json:"qemu"`
	Guest     string `json:"guestKernel"`
	Go        string `json:"go"`
	Revision  string `json:"revision"`
	Hostname  string `json:"hostname"`
	OtherLoad string `json:"loadAtStart"`
}

// Section is one lettered part of the benchmark.
type Section struct {
	Key     string   `json:"key"`
	Title   string   `json:"title"`
	Seconds float64  `json:"seconds"`
	Skipped string   `json:"skipped,omitempty"`
	Rows    []*Row   `json:"rows,omitempty"`
	Tables  []*Table `json:"tables,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

func (s *Section) note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// Row compares urunc with runc (Runc may be nil) on one measure.
type Row struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Urunc *Dist   `json:"urunc,omitempty"`
	Runc  *Dist   `json:"runc,omitempty"`
	Ratio float64 `json:"ratio,omitempty"`
	Note  string  `json:"note,omitempty"`
	Plot  bool    `json:"-"`
}

// Table is a free-form breakdown.
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

func machineInfo(o opts) Machine {
	m := Machine{Nproc: runtime.NumCPU(), Go: runtime.Version()}
	m.CPU = grepField("/proc/cpuinfo", "model name")
	m.MemTotal = grepField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("qemu-system-x86_64", "--version").Output(); err == nil {
		m.QEMU = strings.SplitN(string(b), "\n", 2)[0]
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(o.kernel), "version")); err == nil {
		m.Guest = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("git", "-C", o.repo, "describe", "--always", "--dirty").Output(); err == nil {
		m.Revision = strings.TrimSpace(string(b))
	}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.OtherLoad = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func grepField(path, key string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// write stores results.json, results.md and start-latency.svg in dir and
// returns the Markdown.
func (r *Results) write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, s := range r.Sections {
		for _, row := range s.Rows {
			row.Ratio = ratio(row.Urunc, row.Runc)
		}
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	md := r.markdown()
	files := map[string][]byte{"results.json": js, "results.md": []byte(md), "start-latency.svg": []byte(r.svg())}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return md, nil
}

func (r *Results) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "## urunc benchmark %s\n\n", r.Started.Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %s, host kernel %s, accelerator %s, %s, guest kernel %s, urunc %s, %s; load at start %s; wall time %.0f s.\n\n",
		m.Nproc, m.CPU, m.MemTotal, m.Kernel, orDash(m.Accel), m.QEMU, m.Guest, m.Revision, m.Go, m.OtherLoad, r.WallSeconds)
	b.WriteString("| § | measure | unit | urunc median | urunc p95 | runc median | runc p95 | ratio (medians) | n (urunc/runc) | failures |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, s := range r.Sections {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | | | | | |\n", s.Key, s.Skipped)
			continue
		}
		for _, row := range s.Rows {
			u, c := row.Urunc, row.Runc
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Key, row.Name, row.Unit,
				num(u, false), num(u, true), num(c, false), num(c, true), ratioText(row.Ratio), counts(u, c), fails(u, c))
		}
	}
	for _, s := range r.Sections {
		if len(s.Tables) == 0 && len(s.Notes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s. %s (%.0f s)\n", s.Key, s.Title, s.Seconds)
		for _, t := range s.Tables {
			fmt.Fprintf(&b, "\n%s\n\n| %s |\n|%s\n", t.Title, strings.Join(t.Header, " | "), strings.Repeat("---|", len(t.Header)))
			for _, row := range t.Rows {
				fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			}
		}
		if len(s.Notes) > 0 {
			b.WriteString("\n")
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func num(d *Dist, p95 bool) string {
	if d == nil || d.N == 0 {
		return "—"
	}
	v := d.Median
	if p95 {
		v = d.P95
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratioText(r float64) string {
	if r == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f×", r)
}

func counts(u, c *Dist) string {
	n := func(d *Dist) string {
		if d == nil {
			return "—"
		}
		return fmt.Sprint(d.N)
	}
	return n(u) + "/" + n(c)
}

func fails(u, c *Dist) string {
	f := 0
	for _, d := range []*Dist{u, c} {
		if d != nil {
			f += d.Failures
		}
	}
	return fmt.Sprint(f)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
