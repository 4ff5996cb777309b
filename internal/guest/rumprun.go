package guest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rumprun builds the configuration of a rumprun unikernel. Rumprun reads
// one JSON object from its command line (everything before the first '{' is
// skipped), in the format of lib/librumprun_base/config.c of the Solo5
// forks (rumpconfig.c upstream) and of the app-tools/rumprun launcher:
//
//	{"cmdline":"<prog> <args>",
//	 "env":"K=V","env":"K2=V2",             one "env" key per variable
//	 "net":{"if":"ukvmif0","cloner":"true","type":"inet","method":"static",
//	        "addr":"<ip>","mask":"<prefix>","gw":"<gw>"},
//	 "blk":{"source":"etfs","path":"/dev/ld0a","fstype":"blk","mountpoint":"<dir>"}}
//
// Every value is a JSON string. The parser (jsmn) does not decode escapes:
// a value reaches the guest exactly as it stands between the quotes. So
// values that encoding/json would escape are refused, except in "cmdline":
// there rumprun_parseargs applies its own backslash escapes, which turn the
// JSON layer's \" and \\ back into " and \. In "cmdline" only '…' quotes
// (a " always arrives escaped), so an argument containing ' cannot be
// expressed and is refused.
//
// On Solo5 (the default when Spec.Platform is "") the interface is ukvmif0,
// created through its cloner, and the block image is an etfs device. On
// QEMU (rumprun's hw platform) the interface is the virtio vioif0, which is
// not a cloner, and the image is the virtio disk /dev/ld0a, used as is.
// Rumprun has no virtio-mmio or PVH boot, so other platforms are refused.
//
// The guest exits through its platform (solo5_exit on Solo5, power-off on
// QEMU); whether the tender's exit status carries main()'s return value is
// not verified.
type rumprun struct{}

func init() { register(rumprun{}) }

// Type implements Guest.
func (rumprun) Type() Type { return Rumprun }

// rumprunDefaultProgram is argv[0] when process.args is empty: the name
// rumprun itself uses when it boots without a configuration.
const rumprunDefaultProgram = "rumprun"

// rumprunDevices names the devices rumprun sees on one platform.
type rumprunDevices struct {
	netIf     string
	netCloner bool   // the interface is created with ifcreate
	blkSource string // "etfs" or "dev"
	blkPath   string
}

var rumprunPlatforms = map[Platform]rumprunDevices{
	// Path as in nabla-containers/rumprun's tests and upstream urunc: the
	// Solo5 block driver serves any XENBLK_ name as its single disk.
	PlatformSolo5: {netIf: "ukvmif0", netCloner: true, blkSource: "etfs", blkPath: "/dev/ld0a"},
	// As app-tools/rumprun writes for qemu/kvm: first virtio disk, partition a.
	PlatformQEMU: {netIf: "vioif0", blkSource: "dev", blkPath: "/dev/ld0a"},
}

// Boot implements Guest. The image's cmdline annotation, when set, wins
// over process.args and is used verbatim as the "cmdline" value (program
// and arguments, in rumprun's syntax), as upstream urunc does.
func (rumprun) Boot(s Spec) (Boot, error) {
	dev, err := rumprunPlatform(s.Platform)
	if err != nil {
		return Boot{}, err
	}
	cmdline, err := rumprunCmdline(s)
	if err != nil {
		return Boot{}, err
	}
	cfg := jsonObject{{"cmdline", cmdline}}
	for i, kv := range s.Env {
		if err := checkEnvEntry(Rumprun, i, kv); err != nil {
			return Boot{}, err
		}
		if err := jsmnVerbatim(kv, false); err != nil {
			return Boot{}, fmt.Errorf("rumprun guest: process.env[%d] %q: %w", i, kv, err)
		}
		cfg = append(cfg, jsonField{"env", kv})
	}
	if s.Net != nil {
		n, err := checkIPv4(Rumprun, s.Net)
		if err != nil {
			return Boot{}, err
		}
		cfg = append(cfg, jsonField{"net", rumprunNet(n, dev)})
	}
	if s.Block != nil {
		blk, err := rumprunBlock(s.Block, dev)
		if err != nil {
			return Boot{}, err
		}
		if blk != nil {
			cfg = append(cfg, jsonField{"blk", blk})
		}
	}
	out, err := encodeJSON(cfg)
	if err != nil {
		return Boot{}, fmt.Errorf("rumprun guest: encode config: %w", err)
	}
	return Boot{Cmdline: out}, nil
}

func rumprunPlatform(p Platform) (rumprunDevices, error) {
	if p == "" {
		p = PlatformSolo5
	}
	dev, ok := rumprunPlatforms[p]
	if !ok {
		return rumprunDevices{}, fmt.Errorf("rumprun guest: platform %q: %w (rumprun runs on solo5 and qemu)", p, ErrNotSupported)
	}
	return dev, nil
}

// rumprunNet renders a static IPv4 configuration. "mask" is the prefix
// length: rumprun passes atoi(mask) to its CIDR call.
func rumprunNet(n ipv4Net, dev rumprunDevices) jsonObject {
	net := jsonObject{{"if", dev.netIf}}
	if dev.netCloner {
		net = append(net, jsonField{"cloner", "true"})
	}
	net = append(net,
		jsonField{"type", "inet"}, jsonField{"method", "static"},
		jsonField{"addr", n.ip}, jsonField{"mask", strconv.Itoa(n.prefix)})
	if n.gateway != "" {
		net = append(net, jsonField{"gw", n.gateway})
	}
	return net
}

// rumprunBlock renders the image-supplied block device; nil when there is
// nothing to say (a virtio disk that is not mounted needs no configuration).
func rumprunBlock(b *Block, dev rumprunDevices) (jsonObject, error) {
	mp := b.MountPoint
	if mp != "" {
		if !strings.HasPrefix(mp, "/") {
			return nil, fmt.Errorf("rumprun guest: %w: block mount point %q is not absolute", ErrInvalidSpec, mp)
		}
		if err := jsmnVerbatim(mp, false); err != nil {
			return nil, fmt.Errorf("rumprun guest: block mount point %q: %w", mp, err)
		}
	}
	if mp == "" && dev.blkSource == "dev" {
		return nil, nil
	}
	blk := jsonObject{{"source", dev.blkSource}, {"path", dev.blkPath}}
	if mp != "" {
		blk = append(blk, jsonField{"fstype", "blk"}, jsonField{"mountpoint", mp})
	}
	return blk, nil
}

// rumprunCmdline is the "cmdline" value: program and arguments.
func rumprunCmdline(s Spec) (string, error) {
	if s.Cmdline != "" {
		if err := jsmnVerbatim(s.Cmdline, true); err != nil {
			return "", fmt.Errorf("rumprun guest: cmdline annotation %q: %w", s.Cmdline, err)
		}
		return s.Cmdline, nil
	}
	if len(s.Args) == 0 {
		return rumprunDefaultProgram, nil
	}
	words := make([]string, 0, len(s.Args))
	for i, a := range s.Args {
		q, err := rumprunQuote(a)
		if err != nil {
			return "", fmt.Errorf("rumprun guest: process.args[%d] %q: %w", i, a, err)
		}
		words = append(words, q)
	}
	return strings.Join(words, " "), nil
}

// rumprunQuote renders a as one rumprun_parseargs word, before JSON
// encoding: spaces are grouped with '…' (tabs and newlines, the other
// blanks, are control characters and refused); " and \ stay as they are
// (the JSON layer escapes them, and parseargs unescapes them).
func rumprunQuote(a string) (string, error) {
	if strings.ContainsRune(a, '\'') {
		return "", fmt.Errorf("%w: a ' cannot be expressed in rumprun's JSON cmdline", ErrInvalidSpec)
	}
	if err := jsmnVerbatim(a, true); err != nil {
		return "", err
	}
	if a == "" || strings.Contains(a, " ") {
		return "'" + a + "'", nil
	}
	return a, nil
}

// jsmnVerbatim checks that s survives the JSON layer unchanged: valid UTF-8
// and nothing encoding/json escapes (control characters, U+2028, U+2029,
// and, unless parseargs undoes it, " and \).
func jsmnVerbatim(s string, parseargs bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidSpec)
	}
	for _, r := range s {
		if r < 0x20 || r == '\u2028' || r == '\u2029' || (!parseargs && (r == '"' || r == '\\')) {
			return fmt.Errorf("%w: %q would reach rumprun still JSON-escaped", ErrInvalidSpec, r)
		}
	}
	return nil
}

// jsonField is one member of a jsonObject.
type jsonField struct {
	key   string
	value any
}

// jsonObject is a JSON object with ordered, possibly repeated keys, as
// rumprun's "env" needs. Keys and values are encoded by encoding/json.
type jsonObject []jsonField

// MarshalJSON implements json.Marshaler.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := encodeJSON(f.key)
		if err != nil {
			return nil, err
		}
		value, err := encodeJSON(f.value)
		if err != nil {
			return nil, err
		}
		b.WriteString(key + ":" + value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeJSON encodes v compactly, leaving <, > and & as they are.
func encodeJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
