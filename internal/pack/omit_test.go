package pack

import (
	"testing"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// Omit leaves out exactly the forms named, for images like other tools'.
func TestOmitMetadata(t *testing.T) {
	for _, tc := range []struct {
		omit                      []string
		annotations, labels, file bool
	}{
		{nil, true, true, true},
		{[]string{OmitFile}, true, true, false},
		{[]string{OmitFile, OmitLabels}, true, false, false},
		{[]string{OmitFile, OmitAnnotations}, false, true, false},
	} {
		s := inputs(t)
		s.Omit = tc.omit
		img, err := Build(s)
		if err != nil {
			t.Fatalf("omit %v: %v", tc.omit, err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		_, inFile := files(t, img)[unikernel.MetadataFile]
		got := [3]bool{m.Annotations[unikernel.KeyType] != "", cf.Config.Labels[unikernel.KeyType] != "", inFile}
		if want := [3]bool{tc.annotations, tc.labels, tc.file}; got != want {
			t.Errorf("omit %v: annotations, labels, file = %v, want %v", tc.omit, got, want)
		}
	}
	s := inputs(t)
	s.Omit = []string{"everything"}
	if _, err := Build(s); err == nil {
		t.Error("omit of an unknown form accepted")
	}
}
