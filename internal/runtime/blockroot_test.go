package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

func TestFindBlockRoot(t *testing.T) {
	const rootfs = "/run/containerd/io.containerd.runtime.v2.task/default/c1/rootfs"
	cases := []struct {
		name   string
		mounts []*mountinfo.Info
		want   string // device, "" for none
	}{
		{"blockfile loop", []*mountinfo.Info{{Mountpoint: rootfs, Source: "/dev/loop3", FSType: "ext4"}}, "/dev/loop3"},
		{"devmapper", []*mountinfo.Info{{Mountpoint: rootfs, Source: "/dev/mapper/containerd-pool-snap-12", FSType: "ext4"}}, "/dev/mapper/containerd-pool-snap-12"},
		{"dm node", []*mountinfo.Info{{Mountpoint: rootfs, Source: "/dev/dm-4", FSType: "xfs"}}, "/dev/dm-4"},
		{"overlayfs", []*mountinfo.Info{{Mountpoint: rootfs, Source: "overlay", FSType: "overlay"}}, ""},
		{"other path", []*mountinfo.Info{{Mountpoint: "/mnt", Source: "/dev/loop1", FSType: "ext4"}}, ""},
		{"loop with a fs the guest cannot mount", []*mountinfo.Info{{Mountpoint: rootfs, Source: "/dev/loop1", FSType: "squashfs"}}, ""},
		{"overlay mounted over the block device", []*mountinfo.Info{
			{Mountpoint: rootfs, Source: "/dev/loop1", FSType: "ext4"},
			{Mountpoint: rootfs, Source: "overlay", FSType: "overlay"}}, ""},
		{"plain folder", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := findBlockRoot(tc.mounts, rootfs)
			if (got == nil) != (tc.want == "") || got != nil && got.Device != tc.want {
				t.Fatalf("findBlockRoot = %+v, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckBlockOffRoot(t *testing.T) {
	rootfs := t.TempDir()
	onRoot := filepath.Join(rootfs, "data.img")
	if err := os.WriteFile(onRoot, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	br := &blockRoot{Device: "/dev/loop7", FSType: "ext4"}
	if err := checkBlockOffRoot("", rootfs, br); err != nil {
		t.Errorf("no image block: %v", err)
	}
	err := checkBlockOffRoot(onRoot, rootfs, br)
	if err == nil || !strings.Contains(err.Error(), "com.urunc.unikernel.block") || !strings.Contains(err.Error(), "/dev/loop7") {
		t.Errorf("image block on the block root: %v, want a refusal naming the key and the device", err)
	}
	// A file on another file system (devtmpfs) is not the root's.
	if err := checkBlockOffRoot("/dev/null", rootfs, br); err != nil {
		t.Errorf("image block on another file system: %v", err)
	}
	if err := checkBlockOffRoot(filepath.Join(rootfs, "absent"), rootfs, br); err == nil {
		t.Error("a missing image block is not an error")
	}
}
