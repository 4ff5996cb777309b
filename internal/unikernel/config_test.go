package unikernel

import (
	"path/filepath"
	"strings"
	"testing"
)

// required is a complete set of required keys.
var required = map[string]string{
	KeyType:       "unikraft",
	KeyHypervisor: "qemu",
	KeyBinary:     "/boot/vmlinuz",
}

// with returns a copy of base with kv added; an empty value deletes.
func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func meta(kv map[string]string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) { writeMeta(t, root, kv) }
}

func raw(data string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) { writeRaw(t, root, data) }
}

type loadCase struct {
	name    string
	ann     map[string]string
	setup   func(t *testing.T, root string)
	want    *Config // host paths relative to the rootfs; nil with wantErr nil means plain container
	wantErr error
	msgs    []string // substrings of the error
}

func TestLoadSources(t *testing.T) {
	run(t, []loadCase{
		{name: "no metadata", ann: map[string]string{"io.kubernetes.cri.container-type": "container"}},
		{name: "urunc.json without urunc keys", setup: raw(`{"org.opencontainers.image.title": 1}`)},
		{name: "only empty values", ann: map[string]string{KeyCmdline: ""}, setup: meta(map[string]string{KeyBlock: ""})},
		{name: "annotations only", ann: with(required, KeyCmdline, "a b", KeyUseDMBlock, "true"),
			want: &Config{Type: "unikraft", Hypervisor: "qemu", Binary: "/boot/vmlinuz", Cmdline: "a b",
				UseDMBlock: true, KernelPath: "boot/vmlinuz"}},
		{name: "urunc.json only",
			setup: meta(with(required, KeyType, "linux", KeyHypervisor, "firecracker", KeyInitrd, "boot/initrd",
				KeyMountRootfs, "1", KeyVersion, "0.17.0", KeyBlkMntPoint, "/", "org.example.other", "x")),
			want: &Config{Type: "linux", Hypervisor: "firecracker", Binary: "/boot/vmlinuz", Initrd: "boot/initrd",
				Version: "0.17.0", BlkMntPoint: "/", MountRootfs: true,
				KernelPath: "boot/vmlinuz", InitrdPath: "boot/initrd"}},
		{name: "annotations win over urunc.json",
			ann:   with(required, KeyCmdline, "from-ann"),
			setup: meta(with(required, KeyHypervisor, "hvt", KeyCmdline, "from-json", KeyBlock, "/disk.img")),
			want: &Config{Type: "unikraft", Hypervisor: "qemu", Binary: "/boot/vmlinuz", Cmdline: "from-ann",
				Block: "/disk.img", KernelPath: "boot/vmlinuz", BlockPath: "disk.img"}},
		{name: "empty annotation does not hide urunc.json",
			ann:   with(required, KeyBinary, ""),
			setup: meta(map[string]string{KeyBinary: "/boot/vmlinuz"}),
			want:  &Config{Type: "unikraft", Hypervisor: "qemu", Binary: "/boot/vmlinuz", KernelPath: "boot/vmlinuz"}},
		{name: "required keys split across both",
			ann:   map[string]string{KeyType: "mirage"},
			setup: meta(map[string]string{KeyHypervisor: "spt", KeyBinary: "boot/vmlinuz"}),
			want:  &Config{Type: "mirage", Hypervisor: "spt", Binary: "boot/vmlinuz", KernelPath: "boot/vmlinuz"}},
		{name: "partial in annotations", ann: with(required, KeyBinary, ""), wantErr: ErrMissingKey,
			msgs: []string{`"` + KeyBinary + `"`, KeyType + " in annotations", KeyHypervisor + " in annotations"}},
		{name: "partial in urunc.json", setup: meta(map[string]string{KeyBinary: "/boot/vmlinuz"}),
			wantErr: ErrMissingKey, msgs: []string{KeyType, KeyHypervisor, KeyBinary + " in urunc.json"}},
		{name: "partial split across both", ann: map[string]string{KeyType: "hermit"},
			setup: meta(map[string]string{KeyCmdline: "x"}), wantErr: ErrMissingKey,
			msgs: []string{KeyHypervisor, KeyBinary, KeyType + " in annotations", KeyCmdline + " in urunc.json"}},
		{name: "only an optional key", ann: map[string]string{KeyUseDMBlock: "false"}, wantErr: ErrMissingKey},
	})
}

func TestLoadValues(t *testing.T) {
	run(t, []loadCase{
		{name: "unknown type", ann: with(required, KeyType, "unikraf"), wantErr: ErrBadValue,
			msgs: []string{KeyType, `"unikraf"`, "annotations", strings.Join(ValidTypes, ", ")}},
		{name: "unknown hypervisor", setup: meta(with(required, KeyHypervisor, "no-such-vmm")), wantErr: ErrBadValue,
			msgs: []string{KeyHypervisor, `"no-such-vmm"`, "urunc.json", strings.Join(ValidHypervisors, ", ")}},
		{name: "unknown key in annotations", ann: with(required, Prefix+"binray", "/x"), wantErr: ErrUnknownKey,
			msgs: []string{`"` + Prefix + `binray"`, "annotations"}},
		{name: "unknown key in urunc.json", ann: required, setup: meta(map[string]string{Prefix + "cmdLine": "x"}),
			wantErr: ErrUnknownKey, msgs: []string{Prefix + "cmdLine", "urunc.json"}},
		{name: "bad bool", ann: with(required, KeyUseDMBlock, "yes"), wantErr: ErrBadValue,
			msgs: []string{KeyUseDMBlock, `"yes"`}},
		{name: "bad bool in urunc.json", setup: meta(with(required, KeyMountRootfs, "on")), wantErr: ErrBadValue,
			msgs: []string{KeyMountRootfs, "urunc.json"}},
	})
}

func TestLoadFile(t *testing.T) {
	run(t, []loadCase{
		{name: "bad base64", setup: raw(`{"` + KeyBinary + `": "not base64!"}`), wantErr: ErrBadValue,
			msgs: []string{KeyBinary, "urunc.json", "base64"}},
		{name: "non-string value", setup: raw(`{"` + KeyUseDMBlock + `": true}`), wantErr: ErrBadValue,
			msgs: []string{KeyUseDMBlock, "urunc.json", "not a string"}},
		{name: "null value", setup: raw(`{"` + KeyBinary + `": null}`), wantErr: ErrBadValue,
			msgs: []string{KeyBinary, "urunc.json"}},
		{name: "malformed json", ann: required, setup: raw(`{"` + KeyBinary + `": `), wantErr: ErrBadFile,
			msgs: []string{"urunc.json"}},
		{name: "json array", setup: raw(`["x"]`), wantErr: ErrBadFile, msgs: []string{"urunc.json"}},
		{name: "json null", setup: raw(`null`), wantErr: ErrBadFile, msgs: []string{"urunc.json"}},
		{name: "urunc.json is a symlink", setup: func(t *testing.T, root string) {
			mkfile(t, root, "real.json")
			mklink(t, root, MetadataFile, "real.json")
		}, wantErr: ErrBadFile, msgs: []string{"urunc.json", "symbolic link"}},
		{name: "urunc.json is a directory", setup: func(t *testing.T, root string) { mkdir(t, root, MetadataFile) },
			wantErr: ErrBadFile, msgs: []string{"urunc.json"}},
		{name: "urunc.json too large", setup: raw(`{"x": "` + strings.Repeat("a", maxMetadataSize) + `"}`),
			wantErr: ErrBadFile, msgs: []string{"urunc.json", "larger"}},
	})
}

func TestLoadPaths(t *testing.T) {
	run(t, []loadCase{
		{name: "kernel missing", ann: with(required, KeyBinary, "/boot/nope"), wantErr: ErrNotFound,
			msgs: []string{KeyBinary, `"/boot/nope"`}},
		{name: "kernel is a directory", ann: with(required, KeyBinary, "/boot"), wantErr: ErrNotRegular,
			msgs: []string{KeyBinary}},
		{name: "kernel escapes", ann: with(required, KeyBinary, "/boot/../../etc/passwd"), wantErr: ErrPathEscape,
			msgs: []string{KeyBinary}},
		{name: "kernel symlink escapes", ann: with(required, KeyBinary, "/vmlinuz"), wantErr: ErrPathEscape,
			setup: func(t *testing.T, root string) { mklink(t, root, "vmlinuz", "../../../../etc/passwd") }},
		{name: "initrd missing", ann: with(required, KeyInitrd, "/boot/initrd.img"), wantErr: ErrNotFound,
			msgs: []string{KeyInitrd}},
		{name: "block escapes", ann: with(required, KeyBlock, "../disk.img"), wantErr: ErrPathEscape,
			msgs: []string{KeyBlock}},
	})
}

func run(t *testing.T, tests []loadCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootfs(t)
			mkfile(t, root, "boot/vmlinuz")
			mkfile(t, root, "boot/initrd")
			mkfile(t, root, "disk.img")
			if tt.setup != nil {
				tt.setup(t, root)
			}
			got, err := Load(tt.ann, root)
			if err != nil {
				t.Logf("error: %v", err)
			}
			checkErr(t, err, tt.wantErr, tt.msgs...)
			if tt.wantErr != nil && got != nil {
				t.Errorf("got %+v with an error", got)
			}
			if tt.wantErr == nil {
				checkConfig(t, root, got, tt.want)
			}
		})
	}
}

func checkConfig(t *testing.T, root string, got, want *Config) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("got %+v, want nil (plain container)", got)
		}
		return
	}
	if got == nil {
		t.Fatal("got nil config")
	}
	w := *want
	for _, p := range []*string{&w.KernelPath, &w.InitrdPath, &w.BlockPath} {
		if *p != "" {
			*p = filepath.Join(root, *p)
		}
	}
	if *got != w {
		t.Errorf("got  %+v\nwant %+v", *got, w)
	}
}

func TestLoadNoRootfsFile(t *testing.T) {
	// A rootfs that does not exist has no urunc.json: plain container.
	got, err := Load(nil, filepath.Join(t.TempDir(), "missing"))
	if got != nil || err != nil {
		t.Fatalf("Load = %v, %v; want nil, nil", got, err)
	}
}
