package guest

import (
	"fmt"
	"slices"
	"strings"
)

// mewz builds Mewz command lines. Mewz (a WASI unikernel booted by
// multiboot) splits its command line at single spaces, with no quoting
// (src/param.zig, src/args.zig):
//
//	ip=<ip>/<prefix> gateway=<gw> [dns=<ip>] [-- argv...]
//
// Every word is also tried as a kernel parameter: a word ip=, gateway=,
// dns= or epoch= anywhere, even after "--", is read as one (and panics the
// kernel when malformed), so such application arguments are refused. The
// network is brought up only when ip= and gateway= are both given; dns=
// defaults to QEMU's user-network resolver. Words after "--" become the
// WASI argv, argv[0] included; older Mewz ignores them. "--" itself and
// empty words are dropped, at most 64 words are kept.
//
// Mewz's WASI environment is always empty, so process.env is not passed;
// Mewz has no block device. Spec.Platform and Version make no difference.
//
// The guest exits by proc_exit(status) through QEMU's isa-debug-exit
// device at urunit's port (Mewz's x64.shutdown writes to 0x501), so QEMU's
// exit status is (status << 1) | 1; without the device the VM would not
// stop. Mewz's virtio-net driver matches only the virtio 1.0 device ID, so
// the NIC is modern-only (VirtioModern).
type mewz struct{}

func init() { register(mewz{}) }

// Type implements Guest.
func (mewz) Type() Type { return Mewz }

// mewzMaxArgs is the size of Mewz's argv table.
const mewzMaxArgs = 64

// mewzParams are the keys Mewz reads from every word of its command line;
// urunc sets the first three.
var mewzParams = []string{"ip", "gateway", "dns", "epoch"}

// Boot implements Guest. The image's cmdline annotation, when set, wins
// over process.args: with a standalone "--" it is a whole Mewz command line
// and follows our parameters; otherwise it is the argv after "--".
func (mewz) Boot(s Spec) (Boot, error) {
	if s.Block != nil {
		return Boot{}, fmt.Errorf("mewz guest: block image: %w", ErrNotSupported)
	}
	var words []string
	if s.Net != nil {
		n, err := checkIPv4(Mewz, s.Net)
		if err != nil {
			return Boot{}, err
		}
		if n.gateway == "" {
			return Boot{}, fmt.Errorf("mewz guest: network without a gateway: %w (Mewz enables its network only with one)", ErrNotSupported)
		}
		words = append(words, fmt.Sprintf("ip=%s/%d", n.ip, n.prefix), "gateway="+n.gateway)
		if len(n.dns) > 0 {
			words = append(words, "dns="+n.dns[0])
		}
	}
	app, err := mewzApp(s)
	if err != nil {
		return Boot{}, err
	}
	return Boot{Cmdline: strings.Join(append(words, app...), " "), ExitDevice: true, VirtioModern: true}, nil
}

func mewzApp(s Spec) ([]string, error) {
	if s.Cmdline != "" {
		if err := checkLine(Mewz, unikernelCmdline, s.Cmdline); err != nil {
			return nil, err
		}
		// Mewz splits at single spaces and reads ip=, gateway= and dns=
		// from every word, after "--" too, the later winning: the image
		// must not set the ones urunc sets. (epoch= is not urunc's.)
		words := strings.Split(s.Cmdline, " ")
		for _, w := range words {
			if k, _, ok := strings.Cut(w, "="); ok && slices.Contains(mewzParams[:3], k) {
				return nil, fmt.Errorf("mewz guest: %w: %s sets parameter %q, which urunc sets", ErrInvalidSpec, unikernelCmdline, k)
			}
		}
		if slices.Contains(words, "--") {
			return []string{s.Cmdline}, nil
		}
		return []string{"--", s.Cmdline}, nil
	}
	if len(s.Args) == 0 {
		return nil, nil
	}
	if len(s.Args) > mewzMaxArgs {
		return nil, fmt.Errorf("mewz guest: %w: %d process.args, Mewz keeps %d", ErrInvalidSpec, len(s.Args), mewzMaxArgs)
	}
	for i, a := range s.Args {
		if err := checkMewzArg(a); err != nil {
			return nil, fmt.Errorf("mewz guest: process.args[%d] %q: %w", i, a, err)
		}
	}
	return append([]string{"--"}, s.Args...), nil
}

func checkMewzArg(a string) error {
	switch {
	case a == "" || a == "--":
		return fmt.Errorf("%w: Mewz drops it", ErrInvalidSpec)
	case strings.ContainsAny(a, " \x00\n\r"):
		return fmt.Errorf("%w: Mewz splits at spaces and has no quoting", ErrInvalidSpec)
	}
	if k, _, ok := strings.Cut(a, "="); ok {
		for _, p := range mewzParams {
			if k == p {
				return fmt.Errorf("%w: Mewz would read it as its %s= parameter", ErrInvalidSpec, p)
			}
		}
	}
	return nil
}
