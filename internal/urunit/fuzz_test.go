package urunit

import (
	"strings"
	"testing"
)

// FuzzParseCmdline: the split never panics, and it is stable: rendering
// the parameters back (each quoted when it holds a blank) and splitting
// again gives the same parameters. Appending a parameter to a line without
// an open quote or "--" adds exactly that parameter at the end.
func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{"console=ttyS0 quiet", `a="b c" d`, `"--"`, "a -- b", `x="`, "a\xa0b", `a"b c"=d`, "=a=b", `"`, `a=""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ParseCmdline(s)
		for _, p := range c.Params {
			if p.Name == "--" && !p.HasValue {
				t.Fatalf("ParseCmdline(%q) kept a \"--\" parameter", s)
			}
		}
		if c.OpenQuote || c.Dashes || strings.ContainsRune(s, 0) {
			return
		}
		after := ParseCmdline(s + " urunit.mtu=1500")
		if after.Dashes || after.OpenQuote || len(after.Params) != len(c.Params)+1 {
			t.Fatalf("appending to %q: %+v, then %+v", s, c, after)
		}
		if last := after.Params[len(after.Params)-1]; last != (Param{Name: "urunit.mtu", Value: "1500", HasValue: true}) {
			t.Fatalf("appending to %q: last parameter %+v", s, last)
		}
		if v, ok := after.Last("urunit.mtu"); !ok || v != "1500" {
			t.Fatalf("appending to %q: Last = %q, %v", s, v, ok)
		}
	})
}

// FuzzNetParams: urunit.ip6= and urunit.dns6= values that parse render
// back to values that parse to the same configuration.
func FuzzNetParams(f *testing.F) {
	f.Add("fd00::2/64,fe80::1", "fd00::53,2001:db8::53")
	f.Add("fd00::2/128", "::ffff:1.2.3.4")
	f.Add("2001:db8::5/056", "fd00::1,,fd00::2")
	f.Fuzz(func(t *testing.T, ip6, dns6 string) {
		if c, err := ParseIP6(ip6); err == nil {
			if c.PrefixLen < 1 || c.PrefixLen > 128 || c.Addr.To4() != nil || (c.Gateway != nil && c.Gateway.To4() != nil) {
				t.Fatalf("ParseIP6(%q) = %+v breaks its invariants", ip6, c)
			}
			back, err := ParseIP6(c.String())
			if err != nil || !back.Addr.Equal(c.Addr) || back.PrefixLen != c.PrefixLen || !back.Gateway.Equal(c.Gateway) {
				t.Fatalf("ParseIP6(%q).String() = %q parses to %+v, %v", ip6, c.String(), back, err)
			}
		}
		if ips, err := ParseDNS6(dns6); err == nil {
			want := ips
			if len(want) > MaxDNS6 {
				want = want[:MaxDNS6]
			}
			back, err := ParseDNS6(FormatDNS6(ips))
			if err != nil || len(back) != len(want) {
				t.Fatalf("ParseDNS6(FormatDNS6(%v)) = %v, %v", ips, back, err)
			}
			for i := range want {
				if !back[i].Equal(want[i]) || back[i].To4() != nil {
					t.Fatalf("nameserver %d: %v, want %v", i, back[i], want[i])
				}
			}
		}
	})
}
