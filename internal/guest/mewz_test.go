package guest

import (
	"errors"
	"strings"
	"testing"
)

func TestMewzBoot(t *testing.T) {
	network := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"fd00::53", "10.4.0.1", "9.9.9.9"}}
	cases := []bootCase{
		{"nothing", Spec{}, ""},
		{"program only", Spec{Args: []string{"/app.wasm"}}, "-- /app.wasm"},
		{"args", Spec{Args: []string{"/app.wasm", "--port", "8080", "x=1"}}, "-- /app.wasm --port 8080 x=1"},
		{"env is not passed", Spec{Args: []string{"/app.wasm"}, Env: []string{"A=1"}}, "-- /app.wasm"},
		{"annotation is the argv", Spec{Args: []string{"/ignored"}, Cmdline: "app -v"}, "-- app -v"},
		{"annotation with its own --", Spec{Cmdline: "epoch=1700000000 -- app -v", Net: &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1"}},
			"ip=10.4.0.5/24 gateway=10.4.0.1 epoch=1700000000 -- app -v"},
		{"network, first IPv4 resolver", Spec{Net: network}, "ip=10.4.0.5/24 gateway=10.4.0.1 dns=10.4.0.1"},
		{"network without dns, then args", Spec{Args: []string{"/a"}, Net: &Net{IP: "172.16.0.2", PrefixLen: 12, Gateway: "172.16.0.1"}},
			"ip=172.16.0.2/12 gateway=172.16.0.1 -- /a"},
		{"platform and version change nothing", Spec{Args: []string{"/a"}, Platform: PlatformQEMU, Version: "0.2"}, "-- /a"},
	}
	checkBoot(t, Mewz, Boot{ExitDevice: true, VirtioModern: true}, cases)
}

func TestMewzBootErrors(t *testing.T) {
	many := make([]string, mewzMaxArgs+1)
	for i := range many {
		many[i] = "a"
	}
	cases := map[string]struct {
		spec Spec
		want error
	}{
		"ipv6":                  {Spec{Net: &Net{IP: "fd00::2", PrefixLen: 64, Gateway: "fd00::1"}}, ErrInvalidSpec},
		"bad gateway":           {Spec{Net: &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "gw"}}, ErrInvalidSpec},
		"no gateway":            {Spec{Net: &Net{IP: "10.0.0.2", PrefixLen: 24}}, ErrNotSupported},
		"space in arg":          {Spec{Args: []string{"/a", "a b"}}, ErrInvalidSpec},
		"empty arg":             {Spec{Args: []string{"/a", ""}}, ErrInvalidSpec},
		"-- arg":                {Spec{Args: []string{"/a", "--"}}, ErrInvalidSpec},
		"ip= arg":               {Spec{Args: []string{"/a", "ip=1.2.3.4/8"}}, ErrInvalidSpec},
		"gateway= arg":          {Spec{Args: []string{"/a", "gateway=x"}}, ErrInvalidSpec},
		"dns= arg":              {Spec{Args: []string{"/a", "dns=x"}}, ErrInvalidSpec},
		"epoch= arg":            {Spec{Args: []string{"/a", "epoch=x"}}, ErrInvalidSpec},
		"newline in arg":        {Spec{Args: []string{"/a", "a\nb"}}, ErrInvalidSpec},
		"too many args":         {Spec{Args: many}, ErrInvalidSpec},
		"newline in annotation": {Spec{Cmdline: "a\nb"}, ErrInvalidSpec},
		"block":                 {Spec{Block: &Block{MountPoint: "/data"}}, ErrNotSupported},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if b, err := (mewz{}).Boot(c.spec); !errors.Is(err, c.want) {
				t.Fatalf("Boot = %+v, %v; want %v", b, err, c.want)
			}
		})
	}
	_, err := (mewz{}).Boot(Spec{Args: []string{"/a", "ip=x"}})
	if err == nil || !strings.Contains(err.Error(), "process.args[1]") {
		t.Errorf("error %v does not name the argument", err)
	}
}
