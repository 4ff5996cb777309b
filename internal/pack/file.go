package pack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// LoadFile reads a declarative Spec from path: JSON when the name ends in
// .json, TOML otherwise. Keys are the urunc-pack flag names without dashes
// ("kernel", "block-mount", ...); unknown keys are errors. Relative paths
// in the file are taken relative to the file's folder.
func LoadFile(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read spec file: %w", err)
	}
	var s Spec
	if strings.HasSuffix(path, ".json") {
		err = decodeJSON(data, &s)
	} else {
		err = decodeTOML(data, &s)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("%w: spec file %q: %w", ErrInvalid, path, err)
	}
	s.resolvePaths(filepath.Dir(path))
	return s, nil
}

func decodeJSON(data []byte, s *Spec) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(s)
}

func decodeTOML(data []byte, s *Spec) error {
	md, err := toml.Decode(string(data), s)
	if err != nil {
		return err
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return fmt.Errorf("unknown key %q", undecoded[0].String())
	}
	return nil
}

// resolvePaths joins dir to the relative input and output paths of s.
func (s *Spec) resolvePaths(dir string) {
	for _, p := range []*string{&s.Kernel, &s.Initrd, &s.Block, &s.Rootfs, &s.Output} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
