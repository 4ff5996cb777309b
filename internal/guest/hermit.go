package guest

import (
	"fmt"
	"slices"
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
		whole, err := checkHermitCmdline(s.Cmdline)
		if err != nil {
			return nil, err
		}
		if whole {
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

// hermitKernelFlags are the kernel words urunc sets; in Hermit a later
// one wins. env= is there too: urunc passes process.env (and the
// resolvers, as env=HERMIT_DNS<n>=) in env= words.
var hermitKernelFlags = []string{"-ip", "-mask", "-gateway"}

// checkHermitCmdline checks the image's cmdline annotation, split as Hermit
// splits the whole command line (shSplit), and reports whether it has a
// "--", i.e. kernel words of its own. It follows urunc's words, so a kernel
// word urunc sets would override urunc's and is refused; so is a line that
// does not split (an open quote, a trailing backslash), because then the
// kernel drops the whole command line, urunc's words included.
func checkHermitCmdline(cmdline string) (bool, error) {
	if err := checkLine(Hermit, unikernelCmdline, cmdline); err != nil {
		return false, err
	}
	words, ok := shSplit(cmdline)
	if !ok {
		return false, fmt.Errorf("hermit guest: %w: %s %q does not split as a shell line (open quote or trailing backslash)",
			ErrInvalidSpec, unikernelCmdline, cmdline)
	}
	stop := slices.Index(words, "--")
	if stop < 0 {
		return false, nil
	}
	for _, w := range words[:stop] {
		if slices.Contains(hermitKernelFlags, w) || strings.HasPrefix(w, "env=") {
			name, _, _ := strings.Cut(w, "=")
			return false, fmt.Errorf("hermit guest: %w: %s sets kernel argument %q, which urunc sets",
				ErrInvalidSpec, unikernelCmdline, name)
		}
	}
	return true, nil
}

// shSplit splits s as the shlex crate does (POSIX shell words): blanks
// (space, tab, newline) separate words; '…' is literal; in "…" a backslash
// escapes only $ ` " \ and a newline; elsewhere a backslash escapes the
// next byte; a '#' starting a word comments out the rest of its line. ok
// is false where shlex fails: an open quote or a trailing backslash.
func shSplit(s string) (words []string, ok bool) {
	i := 0
	next := func() (byte, bool) {
		if i >= len(s) {
			return 0, false
		}
		i++
		return s[i-1], true
	}
	for {
		c, more := next()
		for more && (c == ' ' || c == '\t' || c == '\n') {
			c, more = next()
		}
		if !more {
			return words, true
		}
		if c == '#' {
			for more && c != '\n' {
				c, more = next()
			}
			continue
		}
		var w []byte
	word:
		for more {
			switch c {
			case '"':
				for {
					d, m := next()
					if !m {
						return words, false
					}
					if d == '"' {
						break
					}
					if d == '\\' {
						e, m := next()
						if !m {
							return words, false
						}
						switch e {
						case '$', '`', '"', '\\':
							w = append(w, e)
						case '\n':
						default:
							w = append(w, '\\', e)
						}
						continue
					}
					w = append(w, d)
				}
			case '\'':
				for {
					d, m := next()
					if !m {
						return words, false
					}
					if d == '\'' {
						break
					}
					w = append(w, d)
				}
			case '\\':
				d, m := next()
				if !m {
					return words, false
				}
				if d != '\n' {
					w = append(w, d)
				}
			case ' ', '\t', '\n':
				break word
			default:
				w = append(w, c)
			}
			c, more = next()
		}
		words = append(words, string(w))
	}
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
