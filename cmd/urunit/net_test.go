package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestParseNetConfig(t *testing.T) {
	cases := []struct {
		name, cmdline string
		want          string // device ip mask gw mtu dns ip6; "" for no network
		wantErr       string
	}{
		{"none", "console=ttyS0 quiet", "", ""},
		{"full", "console=ttyS0 ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1:9.9.9.9 urunit.mtu=1450 rdinit=/x",
			"eth0 10.4.0.5 ffffff00 10.4.0.1 1450 [10.4.0.1 9.9.9.9] -", ""},
		{"no gateway no dns", "ip=192.168.1.2:::255.255.255.252::eth0:off", "eth0 192.168.1.2 fffffffc <nil> 0 [] -", ""},
		{"device defaults to eth0", "ip=10.0.0.2:::255.0.0.0", "eth0 10.0.0.2 ff000000 <nil> 0 [] -", ""},
		{"other device", "ip=10.0.0.2:::255.0.0.0::eth1:off urunit.ip6=fd00::2/64", "eth1 10.0.0.2 ff000000 <nil> 0 [] fd00::2/64", ""},
		{"dual stack", "ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1 urunit.mtu=1500 urunit.ip6=fd00:4::5/64,fe80::1 urunit.dns6=fd00:4::53,2001:db8::53",
			"eth0 10.4.0.5 ffffff00 10.4.0.1 1500 [10.4.0.1 fd00:4::53 2001:db8::53] fd00:4::5/64,fe80::1", ""},
		{"dual stack, resolvers before ip=", "urunit.dns6=fd00::53 urunit.ip6=fd00::5/128 ip=10.0.0.2:::255.0.0.0::eth0:off:10.0.0.1",
			"eth0 10.0.0.2 ff000000 <nil> 0 [10.0.0.1 fd00::53] fd00::5/128", ""},
		{"ipv6 only", "console=ttyS0 urunit.mtu=1400 urunit.ip6=2001:db8::5/56,2001:db8::1 urunit.dns6=2001:db8::53",
			"eth0 <nil> <nil> <nil> 1400 [2001:db8::53] 2001:db8::5/56,2001:db8::1", ""},
		{"ipv6 resolvers without an ipv6 address are unreachable", "ip=10.0.0.2:::255.0.0.0 urunit.dns6=fd00::53",
			"eth0 10.0.0.2 ff000000 <nil> 0 [] -", ""},
		{"resolvers alone are no network", "urunit.dns6=fd00::53 urunit.mtu=1500", "", ""},
		{"bad address", "ip=dhcp", "", "client address"},
		{"bad mask", "ip=10.0.0.2:::", "", "netmask"},
		{"bad gateway", "ip=10.0.0.2::gw:255.0.0.0", "", "gateway"},
		{"bad mtu", "ip=10.0.0.2:::255.0.0.0 urunit.mtu=9x", "", "urunit.mtu"},
		{"bad mtu ipv6 only", "urunit.ip6=fd00::2/64 urunit.mtu=60", "", "urunit.mtu"},
		{"ipv4 in urunit.ip6", "urunit.ip6=10.0.0.2/24", "", "urunit.ip6=10.0.0.2/24: address"},
		{"no prefix", "urunit.ip6=fd00::2", "", "prefix length"},
		{"bad ipv6 gateway", "ip=10.0.0.2:::255.0.0.0 urunit.ip6=fd00::2/64,10.0.0.1", "", "gateway"},
		{"last ip= wins", "ip=6.6.6.6:::255.0.0.0 ip=10.0.0.2:::255.0.0.0", "eth0 10.0.0.2 ff000000 <nil> 0 [] -", ""},
		{"ip= after -- is init's argument", "ip=10.0.0.2:::255.0.0.0 -- ip=6.6.6.6:::255.0.0.0", "eth0 10.0.0.2 ff000000 <nil> 0 [] -", ""},
		{"ip= inside a quoted value is not a parameter", `x="a ip=6.6.6.6:::255.0.0.0" ip=10.0.0.2:::255.0.0.0`, "eth0 10.0.0.2 ff000000 <nil> 0 [] -", ""},
		{"0xa0 separates as in the kernel", "x\xa0ip=10.0.0.2:::255.0.0.0", "eth0 10.0.0.2 ff000000 <nil> 0 [] -", ""},
		{"bad ipv6 resolver", "urunit.ip6=fd00::2/64 urunit.dns6=fd00::53,8.8.8.8", "", "urunit.dns6=fd00::53,8.8.8.8: nameserver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseNetConfig(tc.cmdline)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if c != nil {
				ip6 := "-"
				if c.ip6 != nil {
					ip6 = c.ip6.String()
				}
				got = strings.Join([]string{c.device, c.ip.String(), c.mask.String(), c.gateway.String(),
					itoa(c.mtu), sprint(c.dns), ip6}, " ")
			}
			if got != tc.want {
				t.Fatalf("parseNetConfig = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolvConf(t *testing.T) {
	c, err := parseNetConfig("ip=10.0.0.2:::255.0.0.0::eth0:off:10.0.0.1:9.9.9.9 urunit.ip6=fd00::2/64 urunit.dns6=fd00::53")
	if err != nil {
		t.Fatal(err)
	}
	const want = "nameserver 10.0.0.1\nnameserver 9.9.9.9\nnameserver fd00::53\n"
	if got := c.resolvConf(); got != want {
		t.Errorf("resolvConf() = %q, want %q", got, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func sprint(v any) string { return fmt.Sprint(v) }
