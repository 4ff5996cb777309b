package unikernel

import (
	"errors"
	"strings"
	"testing"
)

// Keys the shim copied from the image are named by their source in errors.
func TestErrorsNameImageSources(t *testing.T) {
	ann := map[string]string{
		KeyType:           "linux",
		KeyHypervisor:     "qemu",
		SourcesAnnotation: `{"com.urunc.unikernel.unikernelType":"image manifest annotations","com.urunc.unikernel.hypervisor":"image config labels"}`,
	}
	_, err := Load(ann, t.TempDir())
	if !errors.Is(err, ErrMissingKey) {
		t.Fatalf("Load = %v, want ErrMissingKey", err)
	}
	for _, want := range []string{
		KeyType + " in image manifest annotations",
		KeyHypervisor + " in image config labels",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
