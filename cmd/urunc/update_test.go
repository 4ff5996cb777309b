package main

import (
	"strings"
	"testing"
)

func TestResourcesFromFlags(t *testing.T) {
	cases := []struct {
		name  string
		flags map[string]string
		check func(t *testing.T, limit, quota, pids *int64, cpus string, weight *uint16)
		err   string
	}{
		{"units and -1", map[string]string{"memory": "512m", "memory-swap": "-1", "cpu-quota": "-1", "pids-limit": "20"},
			func(t *testing.T, limit, quota, pids *int64, _ string, _ *uint16) {
				if *limit != 512<<20 || *quota != -1 || *pids != 20 {
					t.Errorf("memory %d, quota %d, pids %d", *limit, *quota, *pids)
				}
			}, ""},
		{"cpuset and weight", map[string]string{"cpuset-cpus": "0-1", "blkio-weight": "300"},
			func(t *testing.T, limit, _, _ *int64, cpus string, weight *uint16) {
				if limit != nil || cpus != "0-1" || *weight != 300 {
					t.Errorf("memory %v, cpus %q, weight %v", limit, cpus, weight)
				}
			}, ""},
		{"nothing", map[string]string{}, nil, "nothing to update"},
		{"bad memory", map[string]string{"memory": "lots"}, nil, "--memory"},
		{"bad quota", map[string]string{"cpu-quota": "1.5"}, nil, "--cpu-quota"},
		{"negative shares", map[string]string{"cpu-share": "-2"}, nil, "--cpu-share"},
		{"weight out of range", map[string]string{"blkio-weight": "5000"}, nil, "10 to 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := resourcesFromFlags(func(n string) (string, bool) { v, ok := c.flags[n]; return v, ok })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, res.Memory.Limit, res.CPU.Quota, res.Pids.Limit, res.CPU.Cpus, res.BlockIO.Weight)
		})
	}
}
