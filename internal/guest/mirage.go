package guest

import (
	"fmt"
	"strings"
)

// mirage builds MirageOS command lines. A MirageOS 4 unikernel evaluates
// its command line with Cmdliner (mirage-runtime); the network device's
// terms are --ipv4=<ip>/<prefix> and --ipv4-gateway=<gw>
// (Mirage_runtime_network.V4). On Solo5 and virtio targets mirage-bootvar
// splits the command line (Parse_argv): blanks are spaces only, "…" groups,
// and a backslash escapes the next byte, inside quotes too; an empty word
// disappears. argv[0] is always "mirage".
//
// The rendered command line is
//
//	[--ipv4=<ip>/<prefix> [--ipv4-gateway=<gw>]] [app args...]
//
// MirageOS has no process environment, so process.env is not passed, and
// no resolver term is standard, so Net.DNS is not either. A block image
// needs no command-line parameter (the VMM attaches it). Spec.Platform and
// Version make no difference.
//
// The guest exits through Solo5 (solo5_exit) with the unikernel's status;
// Cmdliner's usage errors exit with a non-zero status of their own. On
// QEMU (Solo5's virtio target) solo5_exit writes the constant 41 to
// isa-debug-exit's port 0x501 and otherwise halts: the device is asked for
// so that the VM stops, and QEMU then exits 83 whatever the status.
type mirage struct{}

func init() { register(mirage{}) }

// Type implements Guest.
func (mirage) Type() Type { return Mirage }

// Boot implements Guest. The image's cmdline annotation, when set, wins
// over process.args and is appended verbatim, in mirage-bootvar's syntax.
// Otherwise process.args[1:] are the arguments (typically --key=value
// runtime arguments), each escaped; process.args[0] names the program,
// which MirageOS does not read.
func (mirage) Boot(s Spec) (Boot, error) {
	var words []string
	if s.Net != nil {
		n, err := checkIPv4(Mirage, s.Net)
		if err != nil {
			return Boot{}, err
		}
		words = append(words, fmt.Sprintf("--ipv4=%s/%d", n.ip, n.prefix))
		if n.gateway != "" {
			words = append(words, "--ipv4-gateway="+n.gateway)
		}
	}
	app, err := mirageApp(s)
	if err != nil {
		return Boot{}, err
	}
	return Boot{Cmdline: strings.Join(append(words, app...), " "), ExitDevice: s.Platform == PlatformQEMU}, nil
}

func mirageApp(s Spec) ([]string, error) {
	if s.Cmdline != "" {
		if err := checkLine(Mirage, "cmdline annotation", s.Cmdline); err != nil {
			return nil, err
		}
		return []string{s.Cmdline}, nil
	}
	if len(s.Args) < 2 {
		return nil, nil
	}
	out := make([]string, 0, len(s.Args)-1)
	for i, a := range s.Args[1:] {
		if a == "" {
			return nil, fmt.Errorf("mirage guest: %w: process.args[%d] is empty, which mirage-bootvar drops", ErrInvalidSpec, i+1)
		}
		if err := checkLine(Mirage, fmt.Sprintf("process.args[%d]", i+1), a); err != nil {
			return nil, err
		}
		out = append(out, mirageEscape(a))
	}
	return out, nil
}

// mirageEscape puts a backslash before each space, '"' and '\' of a, so
// that mirage-bootvar reads a back as one word.
func mirageEscape(a string) string {
	var b strings.Builder
	for _, r := range a {
		if r == ' ' || r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
