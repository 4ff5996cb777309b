// Command urunc-pack builds an OCI image archive for urunc from a kernel,
// an optional initrd, block image and application rootfs, and the guest's
// metadata, given as flags or a declarative file. See docs/packaging.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/urunc-runtime/urunc/internal/pack"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit: 0 on success, 1 on a build failure, 2 on a
// usage error.
func run(args []string, stdout, stderr io.Writer) int {
	s, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var fe flagError
	if errors.As(err, &fe) {
		return 2 // the flag package has printed it with the usage
	}
	if err != nil {
		fmt.Fprintf(stderr, "urunc-pack: %v\n", err)
		return 2
	}
	digest, err := pack.Run(s)
	if err != nil {
		fmt.Fprintf(stderr, "urunc-pack: %v\n", err)
		if errors.Is(err, pack.ErrInvalid) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %s) %s\n", s.Output, s.Format, s.Tag, digest)
	return 0
}

// parseArgs reads the spec file named by -f, if any, then applies the
// flags over it.
func parseArgs(args []string, stderr io.Writer) (pack.Spec, error) {
	var s pack.Spec
	var file string
	if err := newFlagSet(&pack.Spec{Format: pack.FormatOCI}, &file, stderr).Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return s, err
		}
		return s, flagError{err}
	}
	if file != "" {
		var err error
		if s, err = pack.LoadFile(file); err != nil {
			return s, err
		}
	}
	if s.Format == "" {
		s.Format = pack.FormatOCI
	}
	fs := newFlagSet(&s, &file, io.Discard)
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return s, nil
}

// flagError is a flag parsing error the flag package has already printed.
type flagError struct{ error }
