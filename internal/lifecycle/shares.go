package lifecycle

import (
	"bytes"
	"io"
	"os"
)

// nineP marks a kernel with 9p support: the protocol name its 9p client
// carries as a string. (A compressed bzImage hides it; such a kernel is
// taken to have no 9p.)
var nineP = []byte("9p2000.L")

// fileContains reports whether the file holds needle, reading it in
// chunks: a kernel is read once, without holding it all in memory.
func fileContains(path string, needle []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20+len(needle))
	keep := 0 // bytes carried over, so a needle across chunks is found
	for {
		n, err := f.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], needle) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		end := keep + n
		keep = min(len(needle)-1, end)
		copy(buf, buf[end-keep:end])
	}
}
