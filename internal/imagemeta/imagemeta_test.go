package imagemeta

import (
	"encoding/json"
	"maps"
	"testing"
)

const (
	kType = "com.urunc.unikernel.unikernelType"
	kHyp  = "com.urunc.unikernel.hypervisor"
	kBin  = "com.urunc.unikernel.binary"
)

// The precedence table: spec > manifest annotations > config labels, per
// key; other keys are never taken.
func TestMerge(t *testing.T) {
	cases := []struct {
		name                   string
		spec, manifest, labels map[string]string
		want                   map[string]string
		wantSources            map[string]string
	}{
		{"nothing anywhere", map[string]string{"a": "b"}, nil, nil, map[string]string{"a": "b"}, map[string]string{}},
		{"manifest only", nil, map[string]string{kType: "linux", kHyp: "qemu", kBin: "/k"}, nil,
			map[string]string{kType: "linux", kHyp: "qemu", kBin: "/k"},
			map[string]string{kType: FromManifest, kHyp: FromManifest, kBin: FromManifest}},
		{"labels only", nil, nil, map[string]string{kType: "linux", kHyp: "qemu", kBin: "/k"},
			map[string]string{kType: "linux", kHyp: "qemu", kBin: "/k"},
			map[string]string{kType: FromLabels, kHyp: FromLabels, kBin: FromLabels}},
		{"spec wins over both", map[string]string{kHyp: "firecracker"},
			map[string]string{kHyp: "qemu", kType: "linux"}, map[string]string{kHyp: "spt", kBin: "/k"},
			map[string]string{kHyp: "firecracker", kType: "linux", kBin: "/k"},
			map[string]string{kType: FromManifest, kBin: FromLabels}},
		{"manifest wins over labels", nil, map[string]string{kBin: "/m"}, map[string]string{kBin: "/l"},
			map[string]string{kBin: "/m"}, map[string]string{kBin: FromManifest}},
		{"an empty value is unset", map[string]string{kBin: ""}, map[string]string{kBin: ""}, map[string]string{kBin: "/l"},
			map[string]string{kBin: "/l"}, map[string]string{kBin: FromLabels}},
		{"other keys are not taken", nil, map[string]string{"org.opencontainers.image.title": "x"},
			map[string]string{"maintainer": "y"}, map[string]string{}, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, sources := Merge(tc.spec, tc.manifest, tc.labels)
			recorded := got[SourcesAnnotation]
			delete(got, SourcesAnnotation)
			if !maps.Equal(got, tc.want) || !maps.Equal(sources, tc.wantSources) {
				t.Fatalf("Merge = %v, %v; want %v, %v", got, sources, tc.want, tc.wantSources)
			}
			var rec map[string]string
			if len(tc.wantSources) > 0 {
				if err := json.Unmarshal([]byte(recorded), &rec); err != nil || !maps.Equal(rec, tc.wantSources) {
					t.Errorf("%s = %q, want %v", SourcesAnnotation, recorded, tc.wantSources)
				}
			} else if recorded != "" {
				t.Errorf("%s = %q with nothing taken", SourcesAnnotation, recorded)
			}
		})
	}
}
