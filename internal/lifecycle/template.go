package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/planner"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// AnnotationTemplate lets a container (or its pod) opt out of warm starts:
// "off" boots it cold even where [templates] enabled is on. "on" changes
// nothing: the host decides whether templates are used at all.
const AnnotationTemplate = "com.urunc.template"

// templateVersion changes when what a template holds, or how, changes:
// older templates are then never restored.
const templateVersion = "urunc-template-1"

// templateWhyNot says why the guest cannot start from a VM template, ""
// when it can. Only what travels in the initrd survives in a template:
// shared folders and disks are opened by the VMM at boot, and their
// device state would not move to another container.
func (r *Runtime) templateWhyNot(vs *vmSetup, s *specs.Spec) (string, error) {
	switch v := s.Annotations[AnnotationTemplate]; v {
	case "", "on":
	case "off":
		return "annotation " + AnnotationTemplate + " is off", nil
	default:
		return "", fmt.Errorf("annotation %s: %q is not \"on\" or \"off\"", AnnotationTemplate, v)
	}
	d, err := vmm.Describe(vs.plan.VMM)
	g, gerr := guest.Get(vs.plan.Guest)
	if gerr != nil {
		return "", gerr
	}
	_, templater := g.(guest.Templater)
	switch {
	case !r.Config.Templates.Enabled:
		return "[templates] enabled is off in " + r.Config.Path, nil
	case err != nil:
		return "", err
	case !d.Templates:
		return string(vs.plan.VMM) + " cannot save VM templates", nil
	case !templater:
		return "a " + string(vs.plan.Guest) + " guest cannot wait for orders", nil
	case !vs.rootfsInitrd || vs.block != nil || vs.meta.MountRootfs:
		return "the guest's root is not in its initrd", nil
	case len(vs.plan.Spec.Shares) > 0 || len(vs.plan.Spec.Block) > 0 || len(vs.plan.GuestSpec.Devices) > 0:
		return "the guest has shared folders or disks", nil
	case vs.plan.AgentSocket == "":
		return "the guest has no agent channel to take its orders on", nil
	}
	return "", nil
}

// planTemplate gives the plan its template's cache entry, named for what
// the guest boots from: the kernel's and the initrd's content, the VMM
// binary and the ids the VMM runs as. The supervisor keys the machine
// shape inside it. The entry is the only folder of the cache the
// container sees.
func (r *Runtime) planTemplate(vs *vmSetup, s *specs.Spec) error {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00", templateVersion, vs.plan.GuestSpec.UID, vs.plan.GuestSpec.GID)
	if err := hashFile(h, vs.kernelPath()); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if err := hashFile(h, vs.initrd); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	// A new VMM build may not load an old one's state.
	if fi, err := os.Stat(vs.plan.Spec.Binary); err == nil {
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", vs.plan.Spec.Binary, fi.Size(), fi.ModTime().UnixNano())
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	root := r.Config.Templates.Dir
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("template cache %s: %w", root, err)
	}
	entry := filepath.Join(root, key)
	if err := os.Mkdir(entry, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("template cache: %w", err)
	}
	if err := os.Chown(entry, int(vs.plan.GuestSpec.UID), int(vs.plan.GuestSpec.GID)); err != nil {
		return fmt.Errorf("template cache: %w", err)
	}
	// A supervisor killed while it built left its build behind.
	launcher.SweepBuilds(entry)
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
	if err := evictTemplates(root, r.Config.Templates.MaxBytes, entry); err != nil {
		r.Log.WithError(err).Warn("template cache: evict")
	}
	vs.template = entry
	vs.plan.Template = &launcher.Template{Dir: planner.MonitorTemplate,
		BuildTimeout: r.Config.Templates.BuildTimeoutSeconds}
	return nil
}

func hashFile(h hash.Hash, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	h.Write([]byte{0})
	return nil
}

// TemplateEntry is one cache entry of VM templates.
type TemplateEntry struct {
	Path     string
	Bytes    int64 // disk used
	LastUsed time.Time
}

// ListTemplates returns the cache's entries, least recently used first.
func ListTemplates(root string) ([]TemplateEntry, error) {
	ents, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []TemplateEntry
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(root, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		out = append(out, TemplateEntry{Path: p, Bytes: diskUsage(p), LastUsed: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.Before(out[j].LastUsed) })
	return out, nil
}

// diskUsage is the disk a tree takes (a template's RAM file is sparse).
func diskUsage(root string) int64 {
	var n int64
	_ = filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// evictTemplates removes the least recently used entries until the cache
// fits max, keeping keep. A running clone keeps its copy of an evicted
// template's RAM (an open mapping outlives the file); a build in an
// evicted entry fails and its guest boots cold.
func evictTemplates(root string, max int64, keep string) error {
	ents, err := ListTemplates(root)
	if err != nil {
		return err
	}
	var total int64
	for _, e := range ents {
		total += e.Bytes
	}
	for _, e := range ents {
		if total <= max {
			break
		}
		if e.Path == keep {
			continue
		}
		if err := RemoveTemplate(e.Path); err != nil {
			return err
		}
		total -= e.Bytes
	}
	return nil
}

// RemoveTemplate removes one cache entry: renamed away first, so that no
// create finds it half removed.
func RemoveTemplate(path string) error {
	trash := filepath.Join(filepath.Dir(path), ".remove-"+filepath.Base(path)+"-"+strconv.Itoa(os.Getpid()))
	if err := os.Rename(path, trash); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("remove template %s: %w", path, err)
	}
	return os.RemoveAll(trash)
}
