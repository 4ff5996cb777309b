package harness

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestCksumMatchesPOSIX(t *testing.T) {
	if _, err := exec.LookPath("cksum"); err != nil {
		t.Skip("no cksum")
	}
	for _, s := range []string{"", "a", "/tmp/ctrd123456", strings.Repeat("x", 300)} {
		c := exec.Command("cksum")
		c.Stdin = strings.NewReader(s)
		out, err := c.Output()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := strconv.ParseUint(strings.Fields(string(out))[0], 10, 32)
		if got := cksum([]byte(s)); uint64(got) != want {
			t.Errorf("cksum(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`-A POSTROUTING -s 10.4.7.3/32 -m comment --comment "name: \"bridge\" id: \"ctrd1-abc\"" -j CNI-0123456789abcdef01234567`,
			[]string{"-A", "POSTROUTING", "-s", "10.4.7.3/32", "-m", "comment", "--comment", `name: "bridge" id: "ctrd1-abc"`, "-j", "CNI-0123456789abcdef01234567"}},
		{`-A X -m comment --comment 'a b' -j ACCEPT`, []string{"-A", "X", "-m", "comment", "--comment", "a b", "-j", "ACCEPT"}},
		{`-A X --comment "a\b\\c"`, []string{"-A", "X", "--comment", `a\b\c`}},
		{`-A X a\ b  c`, []string{"-A", "X", "a b", "c"}},
		{`-A X --comment ""`, []string{"-A", "X", "--comment", ""}},
	} {
		got, err := splitRule(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitRule(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`-A X "open`, `-A X 'open`, `-A X \`} {
		if _, err := splitRule(bad); err == nil {
			t.Errorf("splitRule(%s): no error", bad)
		}
	}
}

func TestMatchRules(t *testing.T) {
	save := `-P FORWARD ACCEPT
-N CNI-0123456789abcdef01234567
-A POSTROUTING -s 10.4.7.3/32 -m comment --comment "name: \"bridge\" id: \"ctrd1-abc\"" -j CNI-0123456789abcdef01234567
-A POSTROUTING -s 10.4.8.3/32 -m comment --comment "name: \"bridge\" id: \"ctrd2-abc\"" -j CNI-fedcba9876543210fedcba98
-A CNI-ISOLATION-STAGE-1 -i ctrd42 ! -o ctrd42 -j CNI-ISOLATION-STAGE-2
-A CNI-ISOLATION-STAGE-1 -i ctrd421 ! -o ctrd421 -j CNI-ISOLATION-STAGE-2
`
	rules, chains := matchRules(save, []string{`id: \"ctrd1-`, "-i ctrd42 ", "-o ctrd42 "})
	if len(rules) != 2 || !strings.Contains(rules[0], "ctrd1-abc") || !strings.Contains(rules[1], "-i ctrd42 ") {
		t.Errorf("rules %q", rules)
	}
	if !reflect.DeepEqual(chains, []string{"CNI-0123456789abcdef01234567"}) {
		t.Errorf("chains %q", chains)
	}
}

func TestInCgroup(t *testing.T) {
	v1 := "12:pids:/ns1/c1\n11:memory:/ns1/c1/sub\n0::/\n"
	for path, want := range map[string]bool{"/ns1/c1": true, "/ns1": true, "/ns1/c": false, "/ns2": false, "/c1": false} {
		if got := inCgroup(v1, path); got != want {
			t.Errorf("inCgroup(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestFreeSubnet(t *testing.T) {
	cidr := func(s string) *net.IPNet { _, n, _ := net.ParseCIDR(s); return n }
	h := hostIPv4{
		nets: []*net.IPNet{cidr("10.0.0.0/8"), cidr("10.4.5.0/24"), cidr("10.4.6.128/25")},
		ips:  []net.IP{net.ParseIP("10.4.7.9")},
	}
	n, err := freeSubnet(h, 3) // starts at 10.4.4
	if err != nil || n.String() != "10.4.4.0/24" {
		t.Errorf("seed 3: %v, %v", n, err)
	}
	n, err = freeSubnet(h, 4) // 10.4.5, .6 and .7 are used
	if err != nil || n.String() != "10.4.8.0/24" {
		t.Errorf("seed 4: %v, %v; want 10.4.8.0/24", n, err)
	}
	n, err = freeSubnet(h, 253) // 10.4.254, then wraps to 10.4.1
	if err != nil || n.String() != "10.4.254.0/24" {
		t.Errorf("seed 253: %v, %v", n, err)
	}
	if _, err := freeSubnet(hostIPv4{nets: []*net.IPNet{cidr("10.4.0.0/17"), cidr("10.4.128.0/17")}}, 0); err == nil {
		t.Error("all used: no error")
	}
}

func TestRemoveOneFS(t *testing.T) {
	d := filepath.Join(t.TempDir(), "d")
	if err := os.MkdirAll(filepath.Join(d, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "a", "f"), []byte("x"), 0o644)
	os.Symlink("/", filepath.Join(d, "a", "root"))
	if err := removeOneFS(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(d); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", d, err)
	}
	if err := removeOneFS(d); err != nil {
		t.Errorf("missing folder: %v", err)
	}
}

func TestContainerdConfig(t *testing.T) {
	c := &Containerd{Dir: t.TempDir(), DisableCRI: true, LogLevel: "info"}
	if err := c.setup(); err != nil {
		t.Fatal(err)
	}
	if err := c.writeConfig(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.config())
	s := string(b)
	for _, want := range []string{ctrdMarker + "\n", "level = 'info'", "'io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.runtime'",
		"address = '" + c.Socket() + "'", "sandbox = '" + DefaultSandboxImage + "'"} {
		if !strings.Contains(s, want) {
			t.Errorf("config.toml lacks %q:\n%s", want, s)
		}
	}
	if !c.ours() {
		t.Error("a folder with the config is not ours")
	}
	if len(c.BridgeName()) > 15 || !strings.HasPrefix(c.BridgeName(), "ctrd") {
		t.Errorf("bridge name %q", c.BridgeName())
	}
	if _, err := tomlString("a'b"); err == nil {
		t.Error("a quote in a TOML literal string: no error")
	}
}
