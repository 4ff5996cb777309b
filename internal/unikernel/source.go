package unikernel

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
)

// metadata is the merged set of non-empty prefixed values, with the source
// each one came from.
type metadata struct {
	values map[string]string
	origin map[string]string
}

// collect merges the spec's annotations with MetadataFile in rootfs; per key,
// annotations win. Empty values count as unset (image tools write empty
// strings for fields they do not use).
func collect(annotations map[string]string, rootfs string) (*metadata, error) {
	m := &metadata{values: map[string]string{}, origin: map[string]string{}}
	if err := m.add(annotations, fromAnnotations); err != nil {
		return nil, err
	}
	var copied map[string]string
	if s := annotations[SourcesAnnotation]; s != "" && json.Unmarshal([]byte(s), &copied) == nil {
		for k, src := range copied {
			if _, ok := m.origin[k]; ok && len(src) <= 64 {
				m.origin[k] = src
			}
		}
	}
	file, err := readMetadataFile(rootfs)
	if err != nil {
		return nil, err
	}
	if err := m.add(file, fromFile); err != nil {
		return nil, err
	}
	return m, nil
}

// add takes the prefixed keys of kv that are not set yet. Any unknown
// prefixed key is an error, even if another source set it.
func (m *metadata) add(kv map[string]string, origin string) error {
	if unknown := unknownKeys(kv); len(unknown) > 0 {
		return fmt.Errorf("%s: %s: %w (valid: %s)", origin, quoteAll(unknown), ErrUnknownKey,
			strings.Join(knownKeys, ", "))
	}
	for _, k := range knownKeys {
		if _, set := m.values[k]; set || kv[k] == "" {
			continue
		}
		m.values[k] = kv[k]
		m.origin[k] = origin
	}
	return nil
}

// unknownKeys returns the sorted prefixed keys of kv not in knownKeys.
func unknownKeys(kv map[string]string) []string {
	var unknown []string
	for k := range kv {
		if strings.HasPrefix(k, Prefix) && k != KeyRequired && !slices.Contains(knownKeys, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// readMetadataFile reads and decodes MetadataFile at the root of rootfs. A
// missing file yields (nil, nil). The file must be a regular file, not a
// symbolic link, and at most maxMetadataSize bytes.
func readMetadataFile(rootfs string) (map[string]string, error) {
	path := filepath.Join(rootfs, MetadataFile)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", MetadataFile, err)
	}
	if err := checkMetadataMode(fi); err != nil {
		return nil, err
	}
	data, err := readCapped(path)
	if err != nil {
		return nil, err
	}
	return decodeMetadata(data)
}

func checkMetadataMode(fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s: is a symbolic link, refusing to follow it: %w", MetadataFile, ErrBadFile)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file: %w", MetadataFile, ErrBadFile)
	}
	return nil
}

// readCapped opens path without following a symbolic link (the file may be
// swapped after the Lstat) and reads at most maxMetadataSize bytes.
func readCapped(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", MetadataFile, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", MetadataFile, err)
	}
	if err := checkMetadataMode(fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MetadataFile, err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", MetadataFile, maxMetadataSize, ErrBadFile)
	}
	return data, nil
}

// decodeMetadata parses a flat JSON object and base64-decodes the values of
// its prefixed keys. Keys without Prefix are ignored whatever their value
// (image tools copy all image labels into the file).
func decodeMetadata(data []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", MetadataFile, ErrBadFile, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", MetadataFile, ErrBadFile)
	}
	out := map[string]string{}
	for k, v := range raw {
		if !strings.HasPrefix(k, Prefix) {
			continue
		}
		s, err := decodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", MetadataFile, k, err)
		}
		out[k] = s
	}
	return out, nil
}

// decodeValue decodes one JSON string holding standard base64.
func decodeValue(v json.RawMessage) (string, error) {
	var s string
	if len(v) == 0 || v[0] != '"' {
		return "", fmt.Errorf("%w: not a string", ErrBadValue)
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%w: not base64: %w", ErrBadValue, err)
	}
	return string(b), nil
}
