package unikernel

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzDecodeMetadata: urunc.json either decodes to prefixed keys whose
// values are no longer than the file, which encode back to the same map,
// or fails as ErrBadFile/ErrBadValue (both ErrInvalid).
func FuzzDecodeMetadata(f *testing.F) {
	enc := base64.StdEncoding.EncodeToString
	f.Add([]byte(`{"` + KeyType + `":"` + enc([]byte("linux")) + `","org.label":7}`))
	f.Add([]byte(`{"` + KeyCmdline + `":"` + enc([]byte("console=ttyS0 \x00\xff")) + `"}`))
	f.Add([]byte(`{"` + KeyBinary + `":"not base64!"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMetadata(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		raw := map[string]string{}
		for k, v := range m {
			if !strings.HasPrefix(k, Prefix) || len(v) > len(data) {
				t.Fatalf("key %q (value %d bytes of a %d-byte file)", k, len(v), len(data))
			}
			raw[k] = base64.StdEncoding.EncodeToString([]byte(v))
		}
		again, _ := json.Marshal(raw)
		m2, err := decodeMetadata(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %v, %v != %v", err, m2, m)
		}
	})
}

// FuzzLoad: metadata from annotations and urunc.json either load to a
// Config whose type and hypervisor are valid and whose files are regular
// files inside the rootfs, or fail as ErrInvalid.
func FuzzLoad(f *testing.F) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	f.Add("linux", "qemu", "/kernel", "", []byte(`{"`+KeyInitrd+`":"`+enc("/initrd")+`"}`))
	f.Add("unikraft", "hvt", "../../kernel", "true", []byte(`{}`))
	f.Add("", "", "", "", []byte(`{"`+KeyType+`":"`+enc("hermit")+`","`+KeyHypervisor+`":"`+enc("spt")+
		`","`+KeyBinary+`":"`+enc("/link")+`"}`))
	f.Add("mewz", "firecracker", "/dir", "yes", []byte(`{"`+Prefix+`typo":"`+enc("x")+`"}`))
	f.Fuzz(func(t *testing.T, typ, hv, binary, mount string, file []byte) {
		rootfs := newRootfs(t)
		mkfile(t, rootfs, "kernel")
		mkfile(t, rootfs, "initrd")
		mkdir(t, rootfs, "dir")
		mklink(t, rootfs, "link", "../../kernel")
		if err := os.WriteFile(filepath.Join(rootfs, MetadataFile), file, 0o644); err != nil {
			t.Fatal(err)
		}
		ann := map[string]string{KeyType: typ, KeyHypervisor: hv, KeyBinary: binary, KeyMountRootfs: mount}
		c, err := Load(ann, rootfs)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if c == nil {
			return // no metadata: a plain container
		}
		if !slices.Contains(ValidTypes, c.Type) || !slices.Contains(ValidHypervisors, c.Hypervisor) {
			t.Fatalf("type %q, hypervisor %q", c.Type, c.Hypervisor)
		}
		for _, p := range []string{c.KernelPath, c.InitrdPath, c.BlockPath} {
			if p == "" {
				continue
			}
			if !strings.HasPrefix(p, rootfs+"/") {
				t.Fatalf("path %q outside the rootfs %q", p, rootfs)
			}
			if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("path %q is not a regular file: %v", p, err)
			}
		}
	})
}
