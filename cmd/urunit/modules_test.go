package main

import (
	"errors"
	"slices"
	"testing"
)

func TestLoadAll(t *testing.T) {
	deps := map[string][]string{"virtio": {"virtio_ring"}, "virtio_net": {"virtio", "net_failover"}, "net_failover": {"failover"}}
	cases := []struct {
		name    string
		paths   []string
		wantErr bool
	}{
		{"in order", []string{"virtio_ring", "virtio", "failover", "net_failover", "virtio_net"}, false},
		{"reversed", []string{"virtio_net", "net_failover", "failover", "virtio", "virtio_ring"}, false},
		{"missing dependency", []string{"virtio_net", "virtio", "virtio_ring"}, true},
		{"none", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var loaded []string
			load := func(m string) error {
				for _, d := range deps[m] {
					if !slices.Contains(loaded, d) {
						return errors.New("unknown symbol")
					}
				}
				loaded = append(loaded, m)
				return nil
			}
			err := loadAll(tc.paths, load)
			if (err != nil) != tc.wantErr {
				t.Fatalf("loadAll = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && len(loaded) != len(tc.paths) {
				t.Errorf("loaded %v of %v", loaded, tc.paths)
			}
		})
	}
}
