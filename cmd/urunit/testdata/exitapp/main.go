// Command exitapp is the application of urunit's boot test: it prints one
// line and exits with the status given as its argument, or dies by SIGKILL
// when the argument is "kill".
package main

import (
	"fmt"
	"os"
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
