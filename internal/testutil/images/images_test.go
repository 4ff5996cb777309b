package images

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/urunc-runtime/urunc/internal/pack"
)

func TestWriteBusybox(t *testing.T) {
	if _, err := os.Stat(Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	path := filepath.Join(t.TempDir(), "bb.tar")
	if err := WriteBusybox(path, "urunc.local/busybox:test", pack.FormatDocker); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil || cf.Config.Cmd[0] != "sh" || cf.OS != "linux" {
		t.Fatalf("config %+v, %v", cf, err)
	}
	if layers, err := img.Layers(); err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v; want 1", len(layers), err)
	}
	if err := WriteBusybox(filepath.Join(t.TempDir(), "bb-oci.tar"), "urunc.local/busybox:test", pack.FormatOCI); err != nil {
		t.Fatal(err)
	}
}
