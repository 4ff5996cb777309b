package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
)

// Deprecated keys are logged at warn level, once per invocation, and not
// by the hidden helper commands.
func TestLoadConfigWarnsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[qemu]\naccel = \"tcg\"\n\n[binaries]\nhvt = \"/opt/hvt\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(helper bool, loads int) string {
		warnedDeprecations = sync.Once{}
		var buf bytes.Buffer
		log := logrus.New()
		log.SetOutput(&buf)
		for i := 0; i < loads; i++ {
			if _, err := loadConfigWarn(path, helper, log); err != nil {
				t.Fatal(err)
			}
		}
		return buf.String()
	}
	out := run(false, 2)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(out, "level=warning") ||
		!strings.Contains(out, "[qemu] accel is deprecated: use [vm] accel") ||
		!strings.Contains(out, "[binaries] hvt is deprecated: use [hvt] binary") {
		t.Errorf("log %q: want one warning per deprecated key, once", out)
	}
	if out := run(true, 1); out != "" {
		t.Errorf("helper logged %q", out)
	}
}
