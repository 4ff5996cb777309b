package guest

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// unikraft builds Unikraft command lines. Unikraft splits its command line
// like a shell without escapes (lib/ukargparse): blanks separate arguments,
// '…' and "…" group and are removed, and adjacent pieces join into one
// argument. The first argument is the program name (QEMU's multiboot loader
// puts the kernel path there). uklibparam then reads "lib.param=value" tokens
// up to a "--" stop token; everything after it is the application's argv.
// Library parameters are only parsed when a "--" is present, so one is
// always emitted when there are any. A list parameter is
// "lib.param=[ v1 v2 ]" and ends at the first value whose last character is
// ']'.
//
// The command line rendered here is therefore
//
//	[unikraft] [netdev...] [vfs.fstab=[ "initrd0:/:extract::ramfs=1:" ]]
//	[env.vars=[ "K=V" ... ]] -- [app args...]
//
// after a program name on boots that do not supply one: QEMU's multiboot
// loader puts the kernel path first, Firecracker's Linux boot passes
// boot_args as they are, so there "unikraft" is put first (without it the
// first parameter would be taken for the program name and ignored).
type unikraft struct{}

func init() { register(unikraft{}) }

// Type implements Guest.
func (unikraft) Type() Type { return Unikraft }

// unikraftProgram is the program name given where the boot path gives none.
const unikraftProgram = "unikraft"

// unikraftStop separates library parameters from application arguments.
const unikraftStop = "--"

// Boot implements Guest.
//
// Environment: from Unikraft 0.16 on (and when Version is empty) process.env
// goes to the env.vars list parameter of posix-environ. Older Unikraft has no
// such parameter, so the environment is not passed (it is compiled in).
//
// Application arguments: the image's cmdline annotation, when set, wins over
// process.args and is used verbatim, in Unikraft's own syntax (it is what the
// image author tested with). If it contains a standalone "--" it is taken as
// a whole Unikraft command line (library parameters, "--", app args) and our
// parameters are put in front of it. Otherwise process.args[1:] are the app
// arguments, each quoted for ukargparse; process.args[0] names the program,
// which Unikraft takes from the boot path instead.
func (unikraft) Boot(s Spec) (Boot, error) {
	newStyle, err := unikraftAtLeast(s.Version, 0, 16)
	if err != nil {
		return Boot{}, err
	}
	var params []string
	if s.Net != nil {
		net, err := unikraftNet(s.Net, newStyle)
		if err != nil {
			return Boot{}, err
		}
		params = append(params, net...)
	}
	imageParams, err := unikraftImageParams(s)
	if err != nil {
		return Boot{}, err
	}
	if s.Initrd && !unikraftHasRoot(imageParams) {
		root, err := unikraftInitrdRoot(s.Version)
		if err != nil {
			return Boot{}, err
		}
		params = append(params, root...)
	}
	if newStyle && len(s.Env) > 0 {
		vars, err := unikraftEnvVars(s.Env)
		if err != nil {
			return Boot{}, err
		}
		params = append(params, vars...)
	}
	app, err := unikraftApp(s)
	if err != nil {
		return Boot{}, err
	}
	cmdline := unikraftJoin(params, app, s.Cmdline)
	if cmdline != "" && s.Platform != "" && s.Platform != PlatformQEMU {
		cmdline = unikraftProgram + " " + cmdline
	}
	return Boot{Cmdline: cmdline}, nil
}

// unikraftNet renders the network for lwip's netdev parameters: one
// netdev.ip=<ip>/<prefix>:<gw>[:<dns>] from Unikraft 0.16 on, the
// netdev.ipv4_* triple before. Both are IPv4 only: the IPv6 address, gateway
// and resolvers are left out.
func unikraftNet(n *Net, newStyle bool) ([]string, error) {
	ip := net.ParseIP(n.IP).To4()
	if ip == nil || n.PrefixLen < 1 || n.PrefixLen > 32 {
		return nil, fmt.Errorf("unikraft guest: %w: network address %q/%d is not IPv4", ErrInvalidSpec, n.IP, n.PrefixLen)
	}
	gw := net.ParseIP(n.Gateway).To4()
	if n.Gateway != "" && gw == nil {
		return nil, fmt.Errorf("unikraft guest: %w: gateway %q is not IPv4", ErrInvalidSpec, n.Gateway)
	}
	if !newStyle {
		out := []string{"netdev.ipv4_addr=" + ip.String()}
		if gw != nil {
			out = append(out, "netdev.ipv4_gw_addr="+gw.String())
		}
		return append(out, "netdev.ipv4_subnet_mask="+net.IP(net.CIDRMask(n.PrefixLen, 32)).String()), nil
	}
	v := fmt.Sprintf("netdev.ip=%s/%d:", ip, n.PrefixLen)
	if gw != nil {
		v += gw.String()
	}
	for _, d := range n.DNS {
		if dns := net.ParseIP(d).To4(); dns != nil {
			v += ":" + dns.String() // lwip's netdev.ip= takes one IPv4 resolver
			break
		}
	}
	return []string{v}, nil
}

// unikraftInitrdRoot mounts the image's initrd as the root filesystem.
// vfscore's fstab entries are "<dev>:<mountpoint>:<driver>[:<flags>:<opts>:
// <ukopts>]"; which driver unpacks the initrd changed: Unikraft's current
// catalog uses "extract" with the ramfs=1 option (from 0.17 on here, and
// when Version is empty), 0.16's automount matches a driver named
// "initrd", and before 0.16 there is no fstab, only vfs.rootfs.
func unikraftInitrdRoot(version string) ([]string, error) {
	extract, err := unikraftAtLeast(version, 0, 17)
	if err != nil {
		return nil, err
	}
	fstab, err := unikraftAtLeast(version, 0, 16)
	if err != nil {
		return nil, err
	}
	switch {
	case extract:
		return []string{"vfs.fstab=[", `"initrd0:/:extract::ramfs=1:"`, "]"}, nil
	case fstab:
		return []string{"vfs.fstab=[", `"initrd0:/:initrd:::"`, "]"}, nil
	default:
		return []string{"vfs.rootfs=initrd"}, nil
	}
}

// unikraftHasRoot reports whether an image's library parameters already
// say how to mount the root: the image's own fstab or root wins, and urunc
// then sets none, so there is nothing of urunc's for it to override.
func unikraftHasRoot(imageParams []string) bool {
	for _, f := range imageParams {
		if strings.HasPrefix(f, "vfs.fstab=") || strings.HasPrefix(f, "vfs.rootfs=") {
			return true
		}
	}
	return false
}

// unikraftImageParams checks the image's cmdline annotation, split as
// ukargparse splits it, and returns its library parameters: the arguments
// before its first "--", none when it has no "--" (it is then all
// application arguments, put after urunc's "--"). The annotation follows
// urunc's parameters, so a library parameter urunc sets (the network, and
// env.vars when it passes process.env) would override urunc's and is
// refused; so is a quote left open, which would swallow what the VMM adds
// after the command line (Firecracker's virtio_mmio.device=).
func unikraftImageParams(s Spec) ([]string, error) {
	if s.Cmdline == "" {
		return nil, nil
	}
	if strings.ContainsRune(s.Cmdline, 0) {
		return nil, fmt.Errorf("unikraft guest: %w: %s contains a NUL byte", ErrInvalidSpec, unikernelCmdline)
	}
	args, closed := ukSplit(s.Cmdline)
	if !closed {
		return nil, fmt.Errorf("unikraft guest: %w: %s %q leaves a quote open", ErrInvalidSpec, unikernelCmdline, s.Cmdline)
	}
	stop := slices.Index(args, unikraftStop)
	if stop < 0 {
		return nil, nil
	}
	params := args[:stop]
	withEnv, _ := unikraftAtLeast(s.Version, 0, 16) // checked by Boot
	for _, a := range params {
		name, _, _ := strings.Cut(a, "=")
		if (s.Net != nil && strings.HasPrefix(name, "netdev.")) || (withEnv && len(s.Env) > 0 && name == "env.vars") {
			return nil, fmt.Errorf("unikraft guest: %w: %s sets library parameter %q, which urunc sets",
				ErrInvalidSpec, unikernelCmdline, name)
		}
	}
	return params, nil
}

// ukSplit splits s as ukargparse does: blanks separate arguments outside
// quotes, '…' and "…" group and are removed, adjacent pieces join, empty
// arguments are dropped. closed is false when a quote is left open.
func ukSplit(s string) (args []string, closed bool) {
	var cur []byte
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'):
			if len(cur) > 0 {
				args = append(args, string(cur))
			}
			cur = nil
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		default:
			cur = append(cur, c)
		}
	}
	if len(cur) > 0 {
		args = append(args, string(cur))
	}
	return args, quote == 0
}

// unikraftJoin assembles parameters and application arguments.
func unikraftJoin(params, app []string, annotation string) string {
	// Split as Unikraft splits it: a "--" that strings.Fields sees inside
	// quotes is no stop token, and a quoted one is.
	if args, _ := ukSplit(annotation); slices.Contains(args, unikraftStop) {
		return strings.Join(append(params, annotation), " ")
	}
	if len(params) == 0 && len(app) == 0 {
		return ""
	}
	out := append(params, unikraftStop)
	return strings.Join(append(out, app...), " ")
}

// unikraftApp returns the application's arguments as command-line tokens.
func unikraftApp(s Spec) ([]string, error) {
	if s.Cmdline != "" {
		return []string{s.Cmdline}, nil
	}
	if len(s.Args) < 2 {
		return nil, nil
	}
	app := make([]string, 0, len(s.Args)-1)
	for i, a := range s.Args[1:] {
		q, err := ukQuote(a)
		if err != nil {
			return nil, fmt.Errorf("unikraft guest: process.args[%d] %q: %w", i+1, a, err)
		}
		app = append(app, q)
	}
	return app, nil
}

// unikraftEnvVars renders process.env as the env.vars list parameter.
func unikraftEnvVars(env []string) ([]string, error) {
	out := []string{"env.vars=["}
	for i, kv := range env {
		if strings.HasSuffix(kv, "]") {
			return nil, fmt.Errorf("unikraft guest: process.env[%d] %q: %w: a list value ending in ']' ends the env.vars list early",
				i, kv, ErrInvalidSpec)
		}
		q, err := ukQuote(kv)
		if err != nil {
			return nil, fmt.Errorf("unikraft guest: process.env[%d] %q: %w", i, kv, err)
		}
		out = append(out, q)
	}
	return append(out, "]"), nil
}

// ukQuote renders a as one ukargparse argument. Plain words stay as they are.
// Otherwise runs without '"' are put in "…" and runs of '"' in '…'; the
// pieces touch, so ukargparse joins them back into a. An empty argument has
// no representation (ukargparse drops it), nor has a NUL byte.
func ukQuote(a string) (string, error) {
	switch {
	case a == "":
		return "", fmt.Errorf("%w: empty argument cannot be expressed on a unikraft command line", ErrInvalidSpec)
	case strings.ContainsRune(a, 0):
		return "", fmt.Errorf("%w: NUL byte in argument", ErrInvalidSpec)
	case !strings.ContainsAny(a, " \t\n\r\v'\""):
		return a, nil
	}
	var b strings.Builder
	for a != "" {
		if a[0] == '"' {
			n := len(a) - len(strings.TrimLeft(a, `"`))
			b.WriteString("'" + a[:n] + "'")
			a = a[n:]
			continue
		}
		n := strings.IndexByte(a, '"')
		if n < 0 {
			n = len(a)
		}
		b.WriteString(`"` + a[:n] + `"`)
		a = a[n:]
	}
	return b.String(), nil
}

// unikraftAtLeast reports whether version is at least major.minor. An empty
// version means "current" and is true. Accepted forms: "0.16", "0.16.1",
// "v0.16.1", with any suffix after the numbers ("0.17.0~abc", "0.16.1-rc1").
func unikraftAtLeast(version string, major, minor int) (bool, error) {
	if version == "" {
		return true, nil
	}
	maj, mnr, err := parseMajorMinor(version)
	if err != nil {
		return false, fmt.Errorf("unikraft guest: unikernelVersion %q: %w: %w", version, ErrInvalidSpec, err)
	}
	return maj > major || (maj == major && mnr >= minor), nil
}

// versionRE matches "[v]MAJOR[.MINOR[<sep>anything]]", sep one of ".~+_-".
var versionRE = regexp.MustCompile(`^v?(\d+)(?:\.(\d+)(?:[.~+_-].*)?)?$`)

// parseMajorMinor reads the leading "[v]MAJOR[.MINOR]" of a version.
func parseMajorMinor(v string) (int, int, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, 0, errors.New("want [v]MAJOR.MINOR[.PATCH]")
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, 0, err
	}
	minor := 0
	if m[2] != "" {
		if minor, err = strconv.Atoi(m[2]); err != nil {
			return 0, 0, err
		}
	}
	return major, minor, nil
}
