package main

// The busybox image for the runc side of the containerd sections, built
// from the host's busybox-static without a registry. Copied from
// tests/e2e/containerd_harness_test.go (test code cannot be imported).

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	goruntime "runtime"
	"sort"
	"strings"
	"time"
)

const hostBusybox = "/bin/busybox" // Debian's busybox-static

// tarFile is one entry of a tar archive.
type tarFile struct {
	name, link string
	mode       int64
	data       []byte
	dir        bool
}

// epoch keeps the archives reproducible.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func tarOf(files []tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		case f.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// busyboxLayer is a rootfs with /bin/busybox and one symlink per applet.
func busyboxLayer() ([]byte, error) {
	bb, err := os.ReadFile(hostBusybox)
	if err != nil {
		return nil, err
	}
	list, err := exec.Command(hostBusybox, "--list").Output()
	if err != nil {
		return nil, err
	}
	files := []tarFile{{name: "bin/", dir: true, mode: 0o755}}
	for _, dir := range []string{"dev/", "etc/", "proc/", "root/", "sys/", "tmp/"} {
		files = append(files, tarFile{name: dir, dir: true, mode: 0o755})
	}
	files = append(files,
		tarFile{name: "bin/busybox", mode: 0o755, data: bb},
		tarFile{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
		tarFile{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")})
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	for _, a := range applets {
		if a != "busybox" {
			files = append(files, tarFile{name: "bin/" + a, link: "busybox", mode: 0o777})
		}
	}
	return tarOf(files)
}

// blob is one content-addressed file of an OCI layout.
type blob struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
	data        []byte
}

func newBlob(mediaType string, data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: len(data), data: data}
}

func jsonBlob(mediaType string, v any) (blob, error) {
	b, err := json.Marshal(v)
	return newBlob(mediaType, b), err
}

// writeBusyboxArchive writes an OCI image layout tar (one manifest,
// one uncompressed layer) naming the image ref.
func writeBusyboxArchive(path, ref string) error {
	layerData, err := busyboxLayer()
	if err != nil {
		return err
	}
	layer := newBlob("application/vnd.oci.image.layer.v1.tar", layerData)
	config, err := jsonBlob("application/vnd.oci.image.config.v1+json", map[string]any{
		"architecture": goruntime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": map[string]any{
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd": []string{"sh"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{layer.Digest}},
		"history": []map[string]string{{"created": epoch.Format(time.RFC3339), "created_by": "urunc bench: busybox-static"}},
	})
	if err != nil {
		return err
	}
	manifest, err := jsonBlob("application/vnd.oci.image.manifest.v1+json", map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        config,
		"layers":        []blob{layer},
	})
	if err != nil {
		return err
	}
	desc := manifest
	desc.Platform = map[string]string{"architecture": goruntime.GOARCH, "os": "linux"}
	desc.Annotations = map[string]string{
		"io.containerd.image.name":          ref,
		"org.opencontainers.image.ref.name": ref[strings.LastIndex(ref, ":")+1:],
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []blob{desc},
	})
	if err != nil {
		return err
	}
	files := []tarFile{
		{name: "oci-layout", mode: 0o644, data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "index.json", mode: 0o644, data: index},
		{name: "blobs/", dir: true, mode: 0o755},
		{name: "blobs/sha256/", dir: true, mode: 0o755},
	}
	for _, b := range []blob{layer, config, manifest} {
		files = append(files, tarFile{name: "blobs/sha256/" + strings.TrimPrefix(b.Digest, "sha256:"), mode: 0o644, data: b.data})
	}
	archive, err := tarOf(files)
	if err != nil {
		return err
	}
	return os.WriteFile(path, archive, 0o644)
}
