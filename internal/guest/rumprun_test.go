package guest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestRumprunBoot(t *testing.T) {
	const (
		solo5Net = `"net":{"if":"ukvmif0","cloner":"true","type":"inet","method":"static","addr":"10.4.0.5","mask":"24","gw":"10.4.0.1"}`
		qemuNet  = `"net":{"if":"vioif0","type":"inet","method":"static","addr":"10.4.0.5","mask":"16"}`
	)
	network := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"10.4.0.1"}, MTU: 1450}
	cases := []bootCase{
		{"nothing", Spec{}, `{"cmdline":"rumprun"}`},
		{"program only", Spec{Args: []string{"/hello"}}, `{"cmdline":"/hello"}`},
		{"args", Spec{Args: []string{"/redis-server", "/data/redis.conf"}}, `{"cmdline":"/redis-server /data/redis.conf"}`},
		{"quoting", Spec{Args: []string{"/app", "a b", `say "hi"`, `back\slash`, "", "<&>"}},
			`{"cmdline":"/app 'a b' 'say \"hi\"' back\\slash '' <&>"}`},
		{"env", Spec{Args: []string{"/app"}, Env: []string{"A=1", "B=x y", "EMPTY="}},
			`{"cmdline":"/app","env":"A=1","env":"B=x y","env":"EMPTY="}`},
		{"annotation wins over args", Spec{Args: []string{"/app", "ignored"}, Cmdline: "nginx -c '/data/my conf'"},
			`{"cmdline":"nginx -c '/data/my conf'"}`},
		{"network on solo5 by default", Spec{Args: []string{"/app"}, Net: network}, `{"cmdline":"/app",` + solo5Net + `}`},
		{"network on solo5", Spec{Args: []string{"/app"}, Net: network, Platform: PlatformSolo5}, `{"cmdline":"/app",` + solo5Net + `}`},
		{"network on qemu without gateway", Spec{Args: []string{"/app"}, Platform: PlatformQEMU, Net: &Net{IP: "10.4.0.5", PrefixLen: 16}},
			`{"cmdline":"/app",` + qemuNet + `}`},
		{"block on solo5", Spec{Args: []string{"/app"}, Block: &Block{MountPoint: "/data"}},
			`{"cmdline":"/app","blk":{"source":"etfs","path":"/dev/ld0a","fstype":"blk","mountpoint":"/data"}}`},
		{"block on solo5 without mount point", Spec{Args: []string{"/app"}, Block: &Block{}},
			`{"cmdline":"/app","blk":{"source":"etfs","path":"/dev/ld0a"}}`},
		{"block on qemu", Spec{Args: []string{"/app"}, Platform: PlatformQEMU, Block: &Block{MountPoint: "/srv/my data"}},
			`{"cmdline":"/app","blk":{"source":"dev","path":"/dev/ld0a","fstype":"blk","mountpoint":"/srv/my data"}}`},
		{"block on qemu without mount point", Spec{Args: []string{"/app"}, Platform: PlatformQEMU, Block: &Block{}},
			`{"cmdline":"/app"}`},
		{"everything", Spec{Args: []string{"/app", "-v"}, Env: []string{"A=1"}, Net: network, Block: &Block{MountPoint: "/data"}, Version: "ignored"},
			`{"cmdline":"/app -v","env":"A=1",` + solo5Net + `,"blk":{"source":"etfs","path":"/dev/ld0a","fstype":"blk","mountpoint":"/data"}}`},
	}
	checkBoot(t, Rumprun, Boot{}, cases)
}

func TestRumprunBootErrors(t *testing.T) {
	args := []string{"/app"}
	cases := map[string]struct {
		spec Spec
		want error
	}{
		"ipv6":                  {Spec{Net: &Net{IP: "fd00::2", PrefixLen: 64}}, ErrInvalidSpec},
		"no prefix":             {Spec{Net: &Net{IP: "10.0.0.2"}}, ErrInvalidSpec},
		"bad gateway":           {Spec{Net: &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "gw"}}, ErrInvalidSpec},
		"single quote in arg":   {Spec{Args: []string{"/app", "it's"}}, ErrInvalidSpec},
		"newline in arg":        {Spec{Args: []string{"/app", "a\nb"}}, ErrInvalidSpec},
		"tab in arg":            {Spec{Args: []string{"/app", "a\tb"}}, ErrInvalidSpec},
		"nul in arg":            {Spec{Args: []string{"/app", "a\x00b"}}, ErrInvalidSpec},
		"line separator in arg": {Spec{Args: []string{"/app", "a\u2028b"}}, ErrInvalidSpec},
		"invalid utf-8 in arg":  {Spec{Args: []string{"/app", "\xff"}}, ErrInvalidSpec},
		"newline in annotation": {Spec{Cmdline: "app\n-x"}, ErrInvalidSpec},
		"quote in env":          {Spec{Args: args, Env: []string{`A="x"`}}, ErrInvalidSpec},
		"backslash in env":      {Spec{Args: args, Env: []string{`A=C:\x`}}, ErrInvalidSpec},
		"env without =":         {Spec{Args: args, Env: []string{"A"}}, ErrInvalidSpec},
		"env without key":       {Spec{Args: args, Env: []string{"=1"}}, ErrInvalidSpec},
		"relative mount point":  {Spec{Args: args, Block: &Block{MountPoint: "data"}}, ErrInvalidSpec},
		"quote in mount point":  {Spec{Args: args, Block: &Block{MountPoint: `/da"ta`}}, ErrInvalidSpec},
		"firecracker":           {Spec{Args: args, Platform: PlatformFirecracker}, ErrNotSupported},
		"cloud-hypervisor":      {Spec{Args: args, Platform: PlatformCloudHypervisor}, ErrNotSupported},
		"unknown platform":      {Spec{Args: args, Platform: "xen"}, ErrNotSupported},
		"control in annotation": {Spec{Cmdline: "app\t\x01"}, ErrInvalidSpec},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if b, err := (rumprun{}).Boot(c.spec); !errors.Is(err, c.want) {
				t.Fatalf("Boot = %+v, %v; want %v", b, err, c.want)
			}
		})
	}
}

// TestRumprunArgsRoundTrip reads the cmdline back the way the guest does:
// jsmn hands over the raw text between the quotes, then rumprun_parseargs
// splits it.
func TestRumprunArgsRoundTrip(t *testing.T) {
	args := []string{"/app", "plain", "a b", `"`, `\`, `\"`, `a"b c\d`, "", "  ", "ü ñ", "{}", `\\"`}
	b, err := (rumprun{}).Boot(Spec{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(b.Cmdline), &raw); err != nil {
		t.Fatal(err)
	}
	r := string(raw["cmdline"])
	got := rumprunParseArgs(r[1 : len(r)-1])
	if !reflect.DeepEqual(got, args) {
		t.Errorf("guest sees %q\nwant %q\n(cmdline %s)", got, args, b.Cmdline)
	}
}

// rumprunParseArgs is lib/librumprun_base/parseargs.c, for round-trip tests.
func rumprunParseArgs(s string) []string {
	var out []string
	var cur []byte
	inArg := false
	var quote byte
	for i := 0; ; i++ {
		var ac, rc byte
		if i < len(s) {
			ac = s[i]
		}
		rc = ac
		if ac == '\\' {
			i++
			rc = 0
			if i < len(s) {
				rc = s[i]
			}
		}
		if rc == 0 || ac == ' ' || ac == '\n' || ac == '\t' {
			if rc == 0 || (inArg && quote == 0) {
				if inArg {
					out = append(out, string(cur))
				}
				cur, inArg, quote = nil, false, 0
			}
			if rc == 0 {
				return out
			}
			if !inArg {
				continue
			}
		}
		if !inArg {
			inArg = true
		}
		if quote != 0 && ac == quote {
			quote = 0
			continue
		}
		if ac == '\'' || ac == '"' {
			quote = ac
			continue
		}
		cur = append(cur, rc)
	}
}
