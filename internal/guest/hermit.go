package guest

import (
	"fmt"
	"strings"
)

// hermit builds command lines for the Hermit kernel (hermit-os/kernel,
// formerly RustyHermit) on QEMU, Firecracker or Uhyve. The kernel splits its
// command line like a POSIX shell (the shlex crate) and reads, up to a
// "--" (src/env.rs):
//
//	-ip <ip> -mask <netmask> -gateway <gw>   the static network: they set
//	                                         HERMIT_IP, HERMIT_MASK and
//	                                         HERMIT_GATEWAY, read by the
//	                                         network stack
//	env=KEY=VALUE                            one environment variable
//	                                         (kernels with PR #1394, 2024-09)
//
// and passes the words after "--" to the application as argv[1:]. The
// rendered command line is
//
//	[env=K=V...] [-ip <ip> -mask <mask> [-gateway <gw>]
//	 [env=HERMIT_DNS1=<dns> [env=HERMIT_DNS2=<dns>]]] [-- app args...]
//
// The network flags follow process.env, so that they win over a HERMIT_IP
// the image may set. Without a gateway Hermit assumes 10.0.5.1. Kernels
// built with the dhcpv4 feature prefer DHCP to -ip and its kin.
//
// Version: from Hermit 0.9 on (and when Version is empty) process.env and
// the resolvers go in env= words. Older kernels have no env= and some panic
// on a word they do not know, so there neither is passed.
//
// Hermit has no block device (its storage is virtio-fs), so Spec.Block is
// refused; Spec.Platform makes no difference. The guest exits through its
// platform: on QEMU it writes the status to isa-debug-exit at port 0xf4,
// 4 bytes wide (QEMU's status is (status << 1) | 1; without the device the
// kernel falls back to a triple fault and the status is lost), on Uhyve
// with the application's status. Hermit's virtio drivers skip legacy
// (transitional) PCI devices, so its NIC is modern-only (VirtioModern).
type hermit struct{}

// hermitExitPort is where Hermit's x86_64 shutdown writes its status.
const hermitExitPort = 0xf4

func init() { register(hermit{}) }

// Type implements Guest.
func (hermit) Type() Type { return Hermit }

// Boot implements Guest. The image's cmdline annotation, when set, wins
// over process.args and is used verbatim, in Hermit's syntax: with a
// standalone "--" it is a whole Hermit command line and follows our words;
// otherwise it is the application's arguments. Otherwise process.args[1:]
// are the arguments, each shell-quoted; process.args[0] names the program,
// which Hermit takes from the boot path.
func (hermit) Boot(s Spec) (Boot, error) {
	if s.Block != nil {
		return Boot{}, fmt.Errorf("hermit guest: block image: %w", ErrNotSupported)
	}
	withEnv, err := hermitHasEnv(s.Version)
	if err != nil {
		return Boot{}, err
	}
	var words []string
	if withEnv {
		if words, err = hermitEnv(s.Env); err != nil {
			return Boot{}, err
		}
	}
	if s.Net != nil {
		n, err := checkIPv4(Hermit, s.Net)
		if err != nil {
			return Boot{}, err
		}
		words = append(words, hermitNet(n, withEnv)...)
	}
	app, err := hermitApp(s)
	if err != nil {
		return Boot{}, err
	}
	return Boot{Cmdline: strings.Join(append(words, app...), " "),
		ExitDevice: true, ExitPort: hermitExitPort, ExitPortSize: 4, VirtioModern: true}, nil
}

// hermitHasEnv reports whether the kernel reads env= words.
func hermitHasEnv(version string) (bool, error) {
	if version == "" {
		return true, nil
	}
	major, minor, err := parseMajorMinor(version)
	if err != nil {
		return false, fmt.Errorf("hermit guest: unikernelVersion %q: %w: %w", version, ErrInvalidSpec, err)
	}
	return major > 0 || minor >= 9, nil
}

func hermitEnv(env []string) ([]string, error) {
	out := make([]string, 0, len(env))
	for i, kv := range env {
		if err := checkEnvEntry(Hermit, i, kv); err != nil {
			return nil, err
		}
		if err := checkLine(Hermit, fmt.Sprintf("process.env[%d]", i), kv); err != nil {
			return nil, err
		}
		out = append(out, shQuote("env="+kv))
	}
	return out, nil
}

func hermitNet(n ipv4Net, withEnv bool) []string {
	out := []string{"-ip", n.ip, "-mask", n.mask()}
	if n.gateway != "" {
		out = append(out, "-gateway", n.gateway)
	}
	if !withEnv {
		return out
	}
	for i, d := range n.dns {
		if i == 2 {
			break // Hermit reads two resolvers
		}
		out = append(out, fmt.Sprintf("env=HERMIT_DNS%d=%s", i+1, d))
	}
	return out
}

func hermitApp(s Spec) ([]string, error) {
	if s.Cmdline != "" {
		if err := checkLine(Hermit, "cmdline annotation", s.Cmdline); err != nil {
			return nil, err
		}
		if hasStopToken(s.Cmdline) {
			return []string{s.Cmdline}, nil
		}
		return []string{"--", s.Cmdline}, nil
	}
	if len(s.Args) < 2 {
		return nil, nil
	}
	out := []string{"--"}
	for i, a := range s.Args[1:] {
		if err := checkLine(Hermit, fmt.Sprintf("process.args[%d]", i+1), a); err != nil {
			return nil, err
		}
		out = append(out, shQuote(a))
	}
	return out, nil
}

// shQuote renders a as one POSIX shell word: as it is when it only has
// characters no shell treats specially, otherwise single-quoted, with each
// single quote inside written as quote, backslash, quote, quote. An empty a
// becomes a pair of single quotes.
func shQuote(a string) string {
	if a != "" && strings.Trim(a, shPlain) == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// shPlain are the characters a shell word may hold unquoted.
const shPlain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-"
