// Command bench measures urunc against runc on this machine and writes a
// JSON file, a Markdown table and an SVG plot to a results folder:
//
//	go run ./bench [-out DIR] [-sections abcdef] [-n-lifecycle 30] ...
//
// Sections (docs/performance.md explains each figure):
//
//	a  create+start+delete overhead up to the VMM exec (VMM = /usr/bin/true)
//	b  boot to the app's first line with `urunc run`, per guest kernel
//	c  `ctr run --rm` through a private containerd
//	d  PSS of VMM + shim per idle container
//	e  density: many containers started concurrently through containerd
//	f  HTTP request latency to a guest vs the same server under runc
//	g  exec into a running container
//	h  warm starts from VM templates: first line, ctr run --rm, PSS, density
//
// Needs root. Everything it starts (containers, containerd, network
// namespaces, temporary folders) is removed on exit, on failure and on
// SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// opts are the command-line settings.
type opts struct {
	repo, bin, kernel, tools, out string
	sections                      string
	nLifecycle, nBoot, nCtrd      int
	nMem, nDensity, nHTTP         int
	densityTimeout                time.Duration
}

func parseFlags() opts {
	var o opts
	flag.StringVar(&o.repo, "repo", ".", "repository root (default bin/ and results/)")
	flag.StringVar(&o.bin, "bin", "", "folder with urunc, urunit, hello, httpd, urunc-pack and the shim (default REPO/bin)")
	flag.StringVar(&o.kernel, "kernel", "/var/cache/urunc/kernel/vmlinuz", "Debian cloud kernel (vmlinux and modules/ beside it)")
	flag.StringVar(&o.tools, "tools", "/var/cache/urunc/tools", "pinned containerd, ctr, runc")
	flag.StringVar(&o.out, "out", "", "results folder (default REPO/results/<timestamp>)")
	flag.StringVar(&o.sections, "sections", "abcdefgh", "sections to run")
	flag.IntVar(&o.nLifecycle, "n-lifecycle", 30, "a: runs per runtime (g: exec pairs)")
	flag.IntVar(&o.nBoot, "n-boot", 10, "b: runs per kernel")
	flag.IntVar(&o.nCtrd, "n-ctrd", 20, "c: runs per runtime")
	flag.IntVar(&o.nMem, "n-mem", 10, "d: containers per guest size")
	flag.IntVar(&o.nDensity, "n-density", 50, "e: containers started at once")
	flag.IntVar(&o.nHTTP, "n-http", 1000, "f: requests per server and mode")
	flag.DurationVar(&o.densityTimeout, "density-timeout", 6*time.Minute, "e: give up waiting for the containers after this")
	flag.Parse()
	o.repo, _ = filepath.Abs(o.repo)
	if o.bin == "" {
		o.bin = filepath.Join(o.repo, "bin")
	}
	if o.out == "" {
		o.out = filepath.Join(o.repo, "results", time.Now().Format("20060102-150405"))
	}
	return o
}

func main() {
	o := parseFlags()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (containers, VMs and network namespaces are created for real)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	code := run(ctx, o)
	if ctx.Err() != nil {
		code = 130
	}
	os.Exit(code)
}

// run does the work; its deferred cleanups run before main exits.
func run(ctx context.Context, o opts) int {
	start := time.Now()
	b, err := newBench(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer b.cleanup()
	res := &Results{Machine: machineInfo(o), Started: start}
	sections := []struct {
		key   string
		title string
		fn    func() *Section
	}{
		{"a", "urunc overhead: create+start+delete up to the VMM exec", b.lifecycle},
		{"b", "boot to the app's first line (urunc run)", b.boot},
		{"c", "ctr run --rm through containerd", b.ctrdRun},
		{"d", "memory (PSS) per idle container", b.memory},
		{"e", "density: containers started at once", b.density},
		{"f", "HTTP request latency", b.http},
		{"g", "exec into a running container", b.execBench},
		{"h", "warm starts from VM templates (project kernel)", b.warm},
	}
	for _, s := range sections {
		if !strings.Contains(o.sections, s.key) {
			continue
		}
		var sec *Section
		if ctx.Err() != nil {
			sec = &Section{Skipped: "interrupted"}
		} else {
			b.logf("== %s. %s", s.key, s.title)
			t0 := time.Now()
			sec = b.safe(s.fn)
			sec.Seconds = time.Since(t0).Seconds()
		}
		sec.Key, sec.Title = s.key, s.title
		res.Sections = append(res.Sections, sec)
	}
	b.cleanup()
	res.WallSeconds = time.Since(start).Seconds()
	res.Machine.Accel = b.accel
	md, err := res.write(o.out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: write results:", err)
		return 1
	}
	fmt.Println()
	fmt.Print(md)
	fmt.Printf("\nresults in %s (wall time %.0f s)\n", o.out, res.WallSeconds)
	return 0
}

// safe runs one section, turning a panic into a skipped section so that
// the others still run and everything is cleaned up.
func (b *bench) safe(fn func() *Section) (s *Section) {
	defer func() {
		if r := recover(); r != nil {
			s = &Section{Skipped: fmt.Sprintf("failed: %v", r)}
		}
	}()
	return fn()
}
