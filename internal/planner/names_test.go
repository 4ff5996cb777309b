package planner

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// registryUsers are the packages that must learn about VMMs and guest
// types from the registries (descriptors, needs) and never by name, so
// that adding a VMM or a guest touches its own file and a table line.
var registryUsers = []string{"../lifecycle", "../config", "../hostcheck", "../launcher", "."}

// structTag matches a struct field's tag (`toml:"qemu"`), not any raw
// string: a name in a raw string literal is still a name.
var structTag = regexp.MustCompile("`(\\w+:\"[^\"]*\"\\s*)+`")

// TestNoNamesOutsideRegistries greps the non-test sources of
// registryUsers for a VMM or guest-type constant or name literal.
func TestNoNamesOutsideRegistries(t *testing.T) {
	var alts []string
	for _, n := range vmm.Supported() {
		alts = append(alts, regexp.QuoteMeta(`"`+string(n)+`"`))
	}
	for _, g := range guest.Supported() {
		alts = append(alts, regexp.QuoteMeta(`"`+string(g)+`"`))
	}
	alts = append(alts, `vmm\.(QEMU|Firecracker|HVT|SPT|CloudHypervisor)\b`,
		`guest\.(Linux|Unikraft|Rumprun|Mirage|Mewz|Hermit|Platform[A-Z]\w*)\b`, `guest\.Linux\w+`)
	name := regexp.MustCompile(strings.Join(alts, "|"))
	for _, dir := range registryUsers {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("%s: no Go files (moved? update registryUsers)", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(data), "\n") {
				code, _, _ := strings.Cut(line, "//")
				// A configuration section named for a VMM or guest holds
				// its own knobs: the name is the user's key.
				code = structTag.ReplaceAllString(code, "")
				if m := name.FindString(code); m != "" {
					t.Errorf("%s:%d: names %s: ask the VMM's Descriptor or the guest's Needs instead", f, i+1, m)
				}
			}
		}
	}
}
