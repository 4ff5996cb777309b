// Command hello is the demo and test application for Linux guests: it
// prints a greeting, optionally sleeps, and exits with the status given as
// its first argument:
//
//	hello [status [seconds [ignore-term]]]
//
// While it sleeps, SIGTERM makes it say so and exit 143, as a shell reports a
// process ended by SIGTERM, unless ignore-term is given.
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
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	ignore := len(os.Args) > 3 && os.Args[3] == "ignore-term"
	deadline := time.After(time.Duration(secs) * time.Second)
	for {
		select {
		case <-deadline:
			os.Exit(code)
		case <-term:
			if ignore {
				fmt.Println("hello: ignoring SIGTERM")
				continue
			}
			fmt.Println("hello: got SIGTERM")
			os.Exit(128 + int(syscall.SIGTERM))
		}
	}
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
