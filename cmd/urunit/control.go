package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// serveControl reads control commands from r until it fails, puts each
// signal asked for on signals and answers urunit.ControlAck on ack. Bad
// lines get one warning each on warn and no answer.
func serveControl(r io.Reader, ack io.Writer, signals chan<- os.Signal, warn io.Writer) {
	br := bufio.NewReaderSize(r, urunit.MaxControlLine)
	for {
		line, err := readControlLine(br)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			fmt.Fprintf(warn, "urunit: control: ignoring line longer than %d bytes\n", urunit.MaxControlLine)
			continue
		case err != nil:
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(warn, "urunit: read control channel: %v\n", err)
			}
			return
		}
		sig, err := urunit.ParseControlLine(line)
		if err != nil {
			fmt.Fprintf(warn, "urunit: control: %v\n", err)
			continue
		}
		signals <- sig
		if _, err := io.WriteString(ack, urunit.ControlAck); err != nil {
			fmt.Fprintf(warn, "urunit: answer control channel: %v\n", err)
		}
	}
}

// readControlLine returns the next line from br. A line longer than br's
// buffer is skipped up to its end and reported as bufio.ErrBufferFull.
func readControlLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return string(line), err
	}
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	if err != nil {
		return "", err
	}
	return "", bufio.ErrBufferFull
}
