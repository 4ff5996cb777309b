// Command hello is the demo and test application for Linux guests: it
// prints a greeting, optionally sleeps, and exits with the status given as
// its first argument: hello [status [seconds]].
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	fmt.Println("hello from guest")
	code, err := intArg(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(2)
	}
	secs, err := intArg(2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(2)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	os.Exit(code)
}

func intArg(i int) (int, error) {
	if len(os.Args) <= i {
		return 0, nil
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil {
		return 0, fmt.Errorf("argument %d %q: not a number", i, os.Args[i])
	}
	return n, nil
}
