package guest

import (
	"errors"
	"reflect"
	"testing"
)

func TestMirageBoot(t *testing.T) {
	network := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"10.4.0.1"}}
	cases := []bootCase{
		{"nothing", Spec{}, ""},
		{"program only", Spec{Args: []string{"/unikernel/hello.hvt"}}, ""},
		{"args", Spec{Args: []string{"/hello.hvt", "--hello=world", "-l", "*:debug"}}, "--hello=world -l *:debug"},
		{"escaping", Spec{Args: []string{"/k", `--msg=hello "big" world`, `--path=C:\x`}},
			`--msg=hello\ \"big\"\ world --path=C:\\x`},
		{"env is not passed", Spec{Args: []string{"/k", "--x=1"}, Env: []string{"A=1"}}, "--x=1"},
		{"annotation wins over args", Spec{Args: []string{"/k", "--ignored"}, Cmdline: `--hello="a b"`}, `--hello="a b"`},
		{"network", Spec{Net: network}, "--ipv4=10.4.0.5/24 --ipv4-gateway=10.4.0.1"},
		{"network before args", Spec{Args: []string{"/k", "--x=1"}, Net: network}, "--ipv4=10.4.0.5/24 --ipv4-gateway=10.4.0.1 --x=1"},
		{"network without gateway, then annotation", Spec{Cmdline: "--x=1", Net: &Net{IP: "192.168.1.2", PrefixLen: 30}},
			"--ipv4=192.168.1.2/30 --x=1"},
		{"block and platform change nothing", Spec{Args: []string{"/k", "--x=1"}, Block: &Block{MountPoint: "/data"}, Platform: PlatformSolo5, Version: "4.5"},
			"--x=1"},
	}
	checkBoot(t, Mirage, Boot{}, cases)
	// Solo5's virtio target halts unless isa-debug-exit stops QEMU.
	checkBoot(t, Mirage, Boot{ExitDevice: true}, []bootCase{
		{"virtio on qemu", Spec{Args: []string{"/k", "--x=1"}, Platform: PlatformQEMU}, "--x=1"},
	})
}

func TestMirageBootErrors(t *testing.T) {
	for name, s := range map[string]Spec{
		"ipv6":                  {Net: &Net{IP: "fd00::2", PrefixLen: 64}},
		"bad prefix":            {Net: &Net{IP: "10.0.0.2", PrefixLen: 33}},
		"bad gateway":           {Net: &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "x"}},
		"empty arg":             {Args: []string{"/k", ""}},
		"newline in arg":        {Args: []string{"/k", "a\nb"}},
		"nul in arg":            {Args: []string{"/k", "a\x00"}},
		"newline in annotation": {Cmdline: "--a=1\n--b=2"},
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := (mirage{}).Boot(s); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Boot = %+v, %v; want ErrInvalidSpec", b, err)
			}
		})
	}
}

func TestMirageArgsRoundTrip(t *testing.T) {
	args := []string{"/k", "plain", "a b", `"`, `\`, `\"`, `a"b c\d`, "  ", "tab\tx", "ü ñ", "'"}
	b, err := (mirage{}).Boot(Spec{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := mirageParseArgv(b.Cmdline)
	if want := append([]string{"mirage"}, args[1:]...); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("guest sees %q (ok %v)\nwant %q\n(cmdline %s)", got, ok, want, b.Cmdline)
	}
}

// mirageParseArgv is mirage-bootvar's Parse_argv.parse with the "mirage"
// argv[0] the Solo5 backend adds, for round-trip tests.
func mirageParseArgv(s string) ([]string, bool) {
	out := []string{"mirage"}
	var cur []byte
	escaped, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			cur, escaped = append(cur, c), false
		case c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ' ' && !quoted:
			if len(cur) > 0 {
				out = append(out, string(cur))
			}
			cur = nil
		default:
			cur = append(cur, c)
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out, !escaped && !quoted
}
