package vmm

import "testing"

// New QEMU cases live here, with a qemu- prefix, so that the goldens of
// qemu_test.go stay as they are.
func TestQEMUBlockGolden(t *testing.T) {
	v, err := Get(QEMU)
	if err != nil {
		t.Fatal(err)
	}
	goldenCases(t, v, "qemu", baseSpec, map[string]func(*Spec){
		"block-microvm": func(s *Spec) {
			s.Block = []BlockDevice{{Path: "/dev/mapper/snap", Root: true}, {Path: "/rootfs/data.img", ReadOnly: true}}
		},
		"block-pc-comma": func(s *Spec) {
			s.KernelFormat = FormatMultiboot
			s.Net = &NetDevice{Tap: "tap0", MAC: "02:42:0a:04:00:05"}
			s.Block = []BlockDevice{{Path: "/root fs/disk,1.img"}}
		},
		"block-serials": func(s *Spec) {
			s.Block = []BlockDevice{{Path: "/urunc/block"}, {Path: "/dev/xvdb", Serial: "urunc-dev0"}}
		},
	})
}

func TestQEMUBlockValidate(t *testing.T) {
	v, _ := Get(QEMU)
	runValidateCases(t, v, baseSpec, []validateCase{
		{"relative", func(s *Spec) { s.Block = []BlockDevice{{Path: "nbd:host:1"}} }, "Block[0].Path", ErrInvalidSpec},
		{"empty", func(s *Spec) { s.Block = []BlockDevice{{}} }, "Block[0].Path", ErrInvalidSpec},
		{"api socket", func(s *Spec) { s.APISocket = "/a.sock" }, "APISocket", ErrNotSupported},
		{"serial with a comma", func(s *Spec) { s.Block = []BlockDevice{{Path: "/d", Serial: "a,b"}} }, "Block[0].Serial", ErrInvalidSpec},
		{"serial too long", func(s *Spec) { s.Block = []BlockDevice{{Path: "/d", Serial: "abcdefghijklmnopqrstu"}} }, "Block[0].Serial", ErrInvalidSpec},
	})
}
