// Package imagemeta merges the urunc metadata an image carries outside
// /urunc.json (its manifest's annotations, its config's labels) into a
// container's spec annotations, for the clients that do not copy them
// there themselves (containerd's ctr, nerdctl and CRI).
//
// Precedence, per key: the spec's annotations (what the client set), then
// the manifest's annotations, then the config's labels; /urunc.json in the
// rootfs comes last (internal/unikernel reads it). The keys are merged one
// by one, so the sources may split a set between them, and
// internal/unikernel refuses a set that stays partial.
package imagemeta

import (
	"encoding/json"
	"strings"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// SourcesAnnotation records, as a JSON object, which keys the merge took
// from the image and from where, so that an error can name the source.
const SourcesAnnotation = unikernel.SourcesAnnotation

// Sources of metadata, as SourcesAnnotation names them.
const (
	FromManifest = "image manifest annotations"
	FromLabels   = "image config labels"
)

// Merge returns spec's annotations with the unikernel keys that spec lacks
// taken from manifest, else labels, and which it took (key → source). It
// never changes a key spec sets, and takes nothing else.
func Merge(spec, manifest, labels map[string]string) (map[string]string, map[string]string) {
	out := make(map[string]string, len(spec))
	for k, v := range spec {
		out[k] = v
	}
	taken := map[string]string{}
	for _, src := range []struct {
		kv   map[string]string
		name string
	}{{manifest, FromManifest}, {labels, FromLabels}} {
		for k, v := range src.kv {
			if !strings.HasPrefix(k, unikernel.Prefix) || v == "" || out[k] != "" {
				continue
			}
			out[k] = v
			taken[k] = src.name
		}
	}
	if len(taken) > 0 {
		data, _ := json.Marshal(taken) // a map of strings always encodes
		out[SourcesAnnotation] = string(data)
	}
	return out, taken
}
