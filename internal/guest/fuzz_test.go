package guest

import (
	"slices"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// FuzzBootImageCmdline: for any image cmdline, each guest either refuses
// it or builds a command line on which, split as the guest splits it,
// urunc's network parameters are the ones that take effect.
func FuzzBootImageCmdline(f *testing.F) {
	for _, s := range []string{"", "app -v", "netdev.ip=6.6.6.6/8 -- x", `'--'`, `"a -- b"`, "-ip 6.6.6.6 -- x", "ip=6.6.6.6/8",
		"x\xa0ip=1", `x="`, "-- a", "env=A=1 -- x", "a\tb", `a\`, "#c", "rdinit=/bin/sh"} {
		for g := range 4 {
			f.Add(uint8(g), s)
		}
	}
	net := &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "10.0.0.1", DNS: []string{"10.0.0.1"}, MTU: 1500}
	f.Fuzz(func(t *testing.T, which uint8, image string) {
		types := []Type{Linux, Unikraft, Hermit, Mewz}
		typ := types[int(which)%len(types)]
		g, _ := Get(typ)
		b, err := g.Boot(Spec{Args: []string{"/app", "a"}, Env: []string{"A=1"}, Cmdline: image, Net: net})
		if err != nil {
			return
		}
		switch typ {
		case Linux:
			c := urunit.ParseCmdline(b.Cmdline)
			ip, _ := c.Last("ip")
			rd, _ := c.Last("rdinit")
			if c.Dashes || c.OpenQuote || ip != "10.0.0.2::10.0.0.1:255.255.255.0::eth0:off:10.0.0.1" || rd != urunit.BinaryPath {
				t.Fatalf("image %q: linux line %q: ip=%q rdinit=%q", image, b.Cmdline, ip, rd)
			}
			for _, p := range c.Params {
				if p.Name == "nfsaddrs" || (strings.HasPrefix(p.Name, "urunit.") && p.Name != "urunit.mtu") {
					t.Fatalf("image %q: linux line %q has %q", image, b.Cmdline, p.Name)
				}
			}
		case Unikraft:
			args, closed := ukSplit(b.Cmdline)
			stop := slices.Index(args, "--")
			if !closed || stop < 0 {
				t.Fatalf("image %q: unikraft line %q: closed %v, stop %d", image, b.Cmdline, closed, stop)
			}
			var nets, envs []string
			for _, a := range args[:stop] {
				if strings.HasPrefix(a, "netdev.") {
					nets = append(nets, a)
				}
				if strings.HasPrefix(a, "env.vars") {
					envs = append(envs, a)
				}
			}
			if !slices.Equal(nets, []string{"netdev.ip=10.0.0.2/24:10.0.0.1:10.0.0.1"}) || len(envs) != 1 {
				t.Fatalf("image %q: unikraft line %q: library parameters %q %q", image, b.Cmdline, nets, envs)
			}
		case Hermit:
			words, ok := shSplit(b.Cmdline)
			stop := slices.Index(words, "--")
			if !ok || stop < 0 {
				t.Fatalf("image %q: hermit line %q does not split or has no --", image, b.Cmdline)
			}
			kernel := words[:stop]
			for _, flag := range hermitKernelFlags {
				if n := strings.Count(" "+strings.Join(kernel, " ")+" ", " "+flag+" "); n != 1 {
					t.Fatalf("image %q: hermit line %q has %s %d times", image, b.Cmdline, flag, n)
				}
			}
			if i := slices.Index(kernel, "-ip"); kernel[i+1] != "10.0.0.2" {
				t.Fatalf("image %q: hermit line %q: -ip %q", image, b.Cmdline, kernel[i+1])
			}
			for _, w := range kernel {
				if strings.HasPrefix(w, "env=") && w != "env=A=1" && w != "env=HERMIT_DNS1=10.0.0.1" {
					t.Fatalf("image %q: hermit line %q: %q", image, b.Cmdline, w)
				}
			}
		case Mewz:
			var params []string
			for _, w := range strings.Split(b.Cmdline, " ") {
				if k, _, ok := strings.Cut(w, "="); ok && slices.Contains(mewzParams[:3], k) {
					params = append(params, w)
				}
			}
			if !slices.Equal(params, []string{"ip=10.0.0.2/24", "gateway=10.0.0.1", "dns=10.0.0.1"}) {
				t.Fatalf("image %q: mewz line %q: parameters %q", image, b.Cmdline, params)
			}
		}
	})
}
