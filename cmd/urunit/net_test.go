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
		want          string // device ip mask gw mtu dns; "" for no network
		wantErr       string
	}{
		{"none", "console=ttyS0 quiet", "", ""},
		{"full", "console=ttyS0 ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1:9.9.9.9 urunit.mtu=1450 rdinit=/x",
			"eth0 10.4.0.5 ffffff00 10.4.0.1 1450 [10.4.0.1 9.9.9.9]", ""},
		{"no gateway no dns", "ip=192.168.1.2:::255.255.255.252::eth0:off", "eth0 192.168.1.2 fffffffc <nil> 0 []", ""},
		{"device defaults to eth0", "ip=10.0.0.2:::255.0.0.0", "eth0 10.0.0.2 ff000000 <nil> 0 []", ""},
		{"bad address", "ip=dhcp", "", "client address"},
		{"bad mask", "ip=10.0.0.2:::", "", "netmask"},
		{"bad gateway", "ip=10.0.0.2::gw:255.0.0.0", "", "gateway"},
		{"bad mtu", "ip=10.0.0.2:::255.0.0.0 urunit.mtu=9x", "", "urunit.mtu"},
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
				got = strings.Join([]string{c.device, c.ip.String(), c.mask.String(), c.gateway.String(),
					itoa(c.mtu), sprint(c.dns)}, " ")
			}
			if got != tc.want {
				t.Fatalf("parseNetConfig = %q, want %q", got, tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func sprint(v any) string { return fmt.Sprint(v) }
