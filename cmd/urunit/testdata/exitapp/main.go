// Command exitapp is the application of urunit's boot test: it prints one
// line and exits with the status given as its argument, or dies by SIGKILL
// when the argument is "kill". With "wait-signals" it prints "ready", reports
// each SIGUSR1 as "got USR1" and, on SIGTERM, prints "got TERM" and dies by
// it. With "abort-group" it sends SIGABRT to its process group, which
// holds urunit, and exits 5.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	wd, _ := os.Getwd()
	fmt.Printf("exitapp %v uid=%d gid=%d cwd=%s FOO=%s\n", os.Args[1:], os.Getuid(), os.Getgid(), wd, os.Getenv("FOO"))
	if len(os.Args) > 1 && os.Args[1] == "kill" {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	if len(os.Args) > 1 && os.Args[1] == "wait-signals" {
		waitSignals()
	}
	if len(os.Args) > 1 && os.Args[1] == "abort-group" {
		// SIGABRT to the whole process group, urunit included; this
		// process survives it and exits 5.
		signal.Ignore(syscall.SIGABRT)
		_ = syscall.Kill(0, syscall.SIGABRT)
		time.Sleep(200 * time.Millisecond)
		os.Exit(5)
	}
	if len(os.Args) > 1 && os.Args[1] == "term-init" {
		_ = syscall.Kill(1, syscall.SIGTERM)
		time.Sleep(10 * time.Second)
	}
	code := 0
	if len(os.Args) > 1 {
		code, _ = strconv.Atoi(os.Args[1])
	}
	os.Exit(code)
}

// waitSignals reports SIGUSR1 until SIGTERM arrives, then dies by SIGTERM.
func waitSignals() {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGTERM)
	fmt.Println("ready")
	for sig := range ch {
		if sig == syscall.SIGUSR1 {
			fmt.Println("got USR1")
			continue
		}
		fmt.Println("got TERM")
		signal.Reset(syscall.SIGTERM)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(10 * time.Second)
	}
}
