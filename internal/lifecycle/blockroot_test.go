package lifecycle

import (
	"os"
	"path/filepath"
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

// sameDevice tells a file on the rootfs's file system from one elsewhere,
// for the planner's refusal of an image block file on a block root.
func TestSameDevice(t *testing.T) {
	rootfs := t.TempDir()
	onRoot := filepath.Join(rootfs, "data.img")
	if err := os.WriteFile(onRoot, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if same, err := sameDevice(onRoot, rootfs); err != nil || !same {
		t.Errorf("file on the rootfs: same %v, err %v; want true", same, err)
	}
	// A file on another file system (devtmpfs) is not the root's.
	if same, err := sameDevice("/dev/null", rootfs); err != nil || same {
		t.Errorf("file on another file system: same %v, err %v; want false", same, err)
	}
	if _, err := sameDevice(filepath.Join(rootfs, "absent"), rootfs); err == nil {
		t.Error("a missing file is not an error")
	}
}
