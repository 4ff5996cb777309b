package guest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestHermitBoot(t *testing.T) {
	network := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"10.4.0.1", "fd00::53", "9.9.9.9", "1.1.1.1"}}
	const net24 = "-ip 10.4.0.5 -mask 255.255.255.0 -gateway 10.4.0.1"
	cases := []bootCase{
		{"nothing", Spec{}, ""},
		{"program only", Spec{Args: []string{"/hermit/app"}}, ""},
		{"args", Spec{Args: []string{"/app", "-c", "/etc/app.toml"}}, "-- -c /etc/app.toml"},
		{"quoting", Spec{Args: []string{"/app", "a b", "it's", "", "#x", "$HOME", "--"}},
			`-- 'a b' 'it'\''s' '' '#x' '$HOME' --`},
		{"env", Spec{Args: []string{"/app", "x"}, Env: []string{"PATH=/bin", "GREETING=hello world"}},
			"env=PATH=/bin 'env=GREETING=hello world' -- x"},
		{"env before 0.9 is not passed", Spec{Args: []string{"/app", "x"}, Env: []string{"A=1"}, Version: "0.8.1"}, "-- x"},
		{"env from v0.9.0", Spec{Env: []string{"A=1"}, Version: "v0.9.0"}, "env=A=1"},
		{"annotation wins over args", Spec{Args: []string{"/app", "ignored"}, Cmdline: `-c "/a b.toml"`}, `-- -c "/a b.toml"`},
		{"annotation with kernel args", Spec{Env: []string{"A=1"}, Cmdline: "-freq 2000 -- -v"}, "env=A=1 -freq 2000 -- -v"},
		{"network after env, two IPv4 resolvers", Spec{Args: []string{"/app", "x"}, Env: []string{"HERMIT_IP=1.2.3.4"}, Net: network},
			"env=HERMIT_IP=1.2.3.4 " + net24 + " env=HERMIT_DNS1=10.4.0.1 env=HERMIT_DNS2=9.9.9.9 -- x"},
		{"network without gateway and dns", Spec{Net: &Net{IP: "192.168.1.2", PrefixLen: 30}}, "-ip 192.168.1.2 -mask 255.255.255.252"},
		{"network before 0.9: no resolvers", Spec{Net: network, Version: "0.6.7"}, net24},
		{"platform changes nothing", Spec{Net: network, Platform: PlatformFirecracker, Version: "0.8"}, net24},
	}
	checkBoot(t, Hermit, Boot{ExitDevice: true, ExitPort: 0xf4, ExitPortSize: 4, VirtioModern: true}, cases)
}

func TestHermitBootErrors(t *testing.T) {
	cases := map[string]struct {
		spec Spec
		want error
	}{
		"ipv6":                  {Spec{Net: &Net{IP: "fd00::2", PrefixLen: 64}}, ErrInvalidSpec},
		"bad gateway":           {Spec{Net: &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "x"}}, ErrInvalidSpec},
		"newline in arg":        {Spec{Args: []string{"/a", "a\nb"}}, ErrInvalidSpec},
		"nul in arg":            {Spec{Args: []string{"/a", "a\x00b"}}, ErrInvalidSpec},
		"newline in env":        {Spec{Env: []string{"A=a\nb"}}, ErrInvalidSpec},
		"env without =":         {Spec{Env: []string{"A"}}, ErrInvalidSpec},
		"newline in annotation": {Spec{Cmdline: "a\nb"}, ErrInvalidSpec},
		"bad version":           {Spec{Version: "latest"}, ErrInvalidSpec},
		"block":                 {Spec{Block: &Block{}}, ErrNotSupported},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if b, err := (hermit{}).Boot(c.spec); !errors.Is(err, c.want) {
				t.Fatalf("Boot = %+v, %v; want %v", b, err, c.want)
			}
		})
	}
}

func TestHermitArgsRoundTrip(t *testing.T) {
	args := []string{"/app", "plain", "a b", "'", `"`, `\`, `'\''`, "", "#c", "tab\tx", "ü ñ", "$(x)", "--"}
	env := []string{"A=it's a b", `B="q"`, "C="}
	b, err := (hermit{}).Boot(Spec{Args: args, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	words, ok := shSplit(b.Cmdline)
	if !ok {
		t.Fatalf("cmdline %s does not split", b.Cmdline)
	}
	var gotEnv []string
	for len(words) > 0 && words[0] != "--" {
		gotEnv = append(gotEnv, strings.TrimPrefix(words[0], "env="))
		words = words[1:]
	}
	if !reflect.DeepEqual(gotEnv, env) || !reflect.DeepEqual(words[1:], args[1:]) {
		t.Errorf("guest sees env %q args %q\nwant %q %q\n(cmdline %s)", gotEnv, words[1:], env, args[1:], b.Cmdline)
	}
}
