package images

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pauseSource is the pod sandbox's process: it sleeps until SIGTERM or
// SIGINT, as registry.k8s.io/pause does.
const pauseSource = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
`

// WritePause builds the pause program with the go command on PATH (in
// scratch folder dir) and writes a pod sandbox image holding only /pause
// and the mount points to path: the CRI tests' sandbox image, never pulled.
func WritePause(path, ref, format, dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go not on PATH: needed to build the pause image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(pauseSource), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module pause\n\ngo 1.21\n"), 0o644); err != nil {
		return err
	}
	c := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", "pause", ".")
	c.Dir = dir
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("build pause: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "pause"))
	if err != nil {
		return err
	}
	files := []File{{Name: "pause", Mode: 0o755, Data: bin}}
	for _, d := range []string{"dev/", "etc/", "proc/", "sys/"} {
		files = append(files, File{Name: d, Dir: true, Mode: 0o755})
	}
	layer, err := Tar(files)
	if err != nil {
		return err
	}
	return Write(path, ref, format, [][]byte{layer}, v1.Config{Entrypoint: []string{"/pause"}})
}
