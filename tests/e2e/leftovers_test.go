package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// hostObjects lists the host objects a urunc verb can leave outside its
// state root: every loop device with its backing file, and urunc's taps
// and every ingress qdisc and ingress filter in each of netns (paths; ""
// is the test's own namespace). Compare a list taken before a verb with
// one taken after; the state root itself is assertClean's.
func hostObjects(netns ...string) map[string]bool {
	objs := map[string]bool{}
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		backing, _ := os.ReadFile(f)
		dev := filepath.Base(filepath.Dir(filepath.Dir(f)))
		objs["loop device "+dev+" over "+strings.TrimSpace(string(backing))] = true
	}
	for _, ns := range netns {
		maps.Copy(objs, netObjects(ns))
	}
	return objs
}

// netObjects lists urunc's taps and every ingress qdisc and filter in the
// network namespace at path ns ("" is the test's own).
func netObjects(ns string) map[string]bool {
	objs := map[string]bool{}
	in := func(args ...string) string {
		if ns != "" {
			args = append([]string{"nsenter", "--net=" + ns}, args...)
		}
		out, _ := exec.Command(args[0], args[1:]...).CombinedOutput()
		return string(out)
	}
	where := " in the test's network namespace"
	if ns != "" {
		where = " in " + ns
	}
	for _, tap := range tapName.FindAllString(in("ip", "-o", "link", "show"), -1) {
		objs["tap "+tap+where] = true
	}
	// A filter at ingress needs an ingress (or clsact) qdisc.
	for _, q := range strings.Split(in("tc", "qdisc", "show"), "\n") {
		f := strings.Fields(q)
		i := slices.Index(f, "dev")
		if len(f) < 2 || (f[1] != "ingress" && f[1] != "clsact") || i < 0 || i+1 >= len(f) {
			continue
		}
		objs[strings.TrimSpace(q)+where] = true
		// A filter takes several lines: the device's list is one object.
		if l := strings.TrimSpace(in("tc", "filter", "show", "dev", f[i+1], "ingress")); l != "" {
			objs["ingress filters on "+f[i+1]+where+":\n"+l] = true
		}
	}
	return objs
}

// newObjects lists what after holds and before does not.
func newObjects(before, after map[string]bool) []string {
	var out []string
	for o := range after {
		if !before[o] {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// bundleNetns is the network namespace path the bundle in args (after -b
// or --bundle) joins, or "" when it has none or makes its own: a new
// namespace dies with the container's last process, which assertClean
// checks for.
func bundleNetns(args []string) string {
	i := slices.IndexFunc(args, func(a string) bool { return a == "-b" || a == "--bundle" })
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(args[i+1], "config.json"))
	var spec specs.Spec
	if err != nil || json.Unmarshal(data, &spec) != nil || spec.Linux == nil {
		return ""
	}
	for _, n := range spec.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			return n.Path
		}
	}
	return ""
}
