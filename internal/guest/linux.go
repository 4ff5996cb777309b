package guest

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// linux is a single-application Linux guest: the kernel starts urunit from
// the initramfs (rdinit=), and urunit runs the container's process from the
// Config that LinuxInit builds. The application's argv, env, cwd and ids
// travel in that config file, never on the kernel command line, so they need
// no quoting and are not visible to the kernel's parameter parser.
type linux struct{}

func init() { register(linux{}) }

// linuxBaseCmdline is the fixed part of a Linux guest's command line:
// console on the first serial port, reboot at once on panic (QEMU runs with
// -no-reboot, so a panic ends the VM), triple-fault reboot (fastest; other
// methods take seconds on microvm), quiet boot with only errors shown
// (loglevel=3 hides microvm's harmless "no PCI config space" line), and
// urunit as the initramfs init.
const linuxBaseCmdline = "console=ttyS0 panic=-1 reboot=t quiet loglevel=3 rdinit=" + urunit.BinaryPath

// Type implements Guest.
func (linux) Type() Type { return Linux }

// Needs implements NeedsDeclarer: the container's files, devices, shares
// and block root all reach a Linux guest through urunit.
func (linux) Needs() Needs {
	return Needs{RootfsInitrd: true, Devices: true, Shares: true, BlockRoot: true,
		HostKernelArgs: true, MaxCmdline: LinuxMaxCmdline}
}

// Init implements Initer.
func (linux) Init(s Spec) (urunit.Config, error) { return LinuxInit(s) }

// LinuxMaxCmdline is the longest command line a Linux guest reads whole:
// COMMAND_LINE_SIZE (2048 on x86 and arm64) less the NUL. The kernel cuts a
// longer one silently, which would drop the host's parameters at its end.
const LinuxMaxCmdline = 2047

// Boot implements Guest. The image's cmdline annotation, when set, comes
// first and urunc's own parameters after it: the kernel and urunit take
// the last occurrence of a parameter, so the image can add parameters for
// its own drivers (or another console=, which the kernel adds to its
// consoles) but not undo urunc's. What ordering cannot protect is refused
// (checkLinuxCmdline). Network and root parameters come from the runtime's
// plan, which knows them; they are not part of Spec.
func (linux) Boot(s Spec) (Boot, error) {
	if err := checkLinuxArgs(s); err != nil {
		return Boot{}, err
	}
	if err := checkLinuxCmdline(s.Cmdline); err != nil {
		return Boot{}, err
	}
	cmdline := linuxBaseCmdline
	if s.TSCkHz > 0 {
		// Without it about one boot in six to three hangs calibrating.
		cmdline += " tsc_early_khz=" + strconv.FormatUint(s.TSCkHz, 10)
	}
	if s.Net != nil {
		ip, err := linuxIPParams(s.Net)
		if err != nil {
			return Boot{}, err
		}
		cmdline += " " + ip
	}
	if s.Platform == PlatformCloudHypervisor {
		// Cloud Hypervisor restarts the VM on a reset (KVM_EXIT_SHUTDOWN
		// is its VmExit::Reset), so urunit's reboot would run the app again.
		cmdline += " " + urunit.HaltPowerOff
	}
	if s.Cmdline != "" {
		cmdline = s.Cmdline + " " + cmdline
	}
	if len(cmdline) > LinuxMaxCmdline {
		return Boot{}, fmt.Errorf("linux guest: %w: %s: command line is %d bytes, the kernel reads %d",
			ErrInvalidSpec, unikernelCmdline, len(cmdline), LinuxMaxCmdline)
	}
	return Boot{Cmdline: cmdline, ExitDevice: true, Agent: true}, nil
}

// unikernelCmdline names the image annotation in errors.
const unikernelCmdline = "annotation com.urunc.unikernel.cmdline"

// checkLinuxCmdline refuses what an image's command line could use to undo
// the parameters urunc puts after it, as the kernel splits it
// (urunit.ParseCmdline): a "--" (the kernel would pass urunc's parameters to
// init as arguments), a quote left open (it would swallow them), a NUL or
// line break, ip= and its alias nfsaddrs= (the kernel merges ip= field by
// field, so a later ip= leaves the fields it leaves empty, e.g. the gateway,
// as the image set them) and urunit.* (urunit's own parameters, which
// urunc leaves out when they do not apply, so there is no later one to win).
func checkLinuxCmdline(cmdline string) error {
	if err := checkLine(Linux, unikernelCmdline, cmdline); err != nil {
		return err
	}
	c := urunit.ParseCmdline(cmdline)
	if c.Dashes {
		return fmt.Errorf("linux guest: %w: %s %q: \"--\" would make the parameters urunc adds after it arguments of init",
			ErrInvalidSpec, unikernelCmdline, cmdline)
	}
	if c.OpenQuote {
		return fmt.Errorf("linux guest: %w: %s %q: an unclosed '\"' would swallow the parameters urunc adds after it",
			ErrInvalidSpec, unikernelCmdline, cmdline)
	}
	for _, p := range c.Params {
		if p.Name == "ip" || p.Name == "nfsaddrs" || strings.HasPrefix(p.Name, urunitParamPrefix) {
			return fmt.Errorf("linux guest: %w: %s sets parameter %q, which urunc sets",
				ErrInvalidSpec, unikernelCmdline, p.Name)
		}
	}
	return nil
}

// urunitParamPrefix starts every parameter urunit reads.
const urunitParamPrefix = "urunit."

// LinuxInit is the urunit configuration that runs the container's process
// inside a Linux guest. It is written to urunit.ConfigPath in the initramfs.
func LinuxInit(s Spec) (urunit.Config, error) {
	if err := checkLinuxArgs(s); err != nil {
		return urunit.Config{}, err
	}
	cfg := urunit.Config{
		Args:       slices.Clone(s.Args),
		Env:        slices.Clone(s.Env),
		Cwd:        s.Cwd,
		Hostname:   s.Hostname,
		UID:        s.UID,
		GID:        s.GID,
		RootTag:    s.RootShare,
		RootDevice: s.RootDevice,
		RootFSType: s.RootFSType,
	}
	for _, m := range s.Mounts {
		cfg.Mounts = append(cfg.Mounts, urunit.Mount{Tag: m.Tag, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, d := range s.Devices {
		cfg.Devices = append(cfg.Devices, urunit.Device{Path: d.Path, Serial: d.Serial, FileMode: d.FileMode, UID: d.UID, GID: d.GID})
	}
	return cfg, nil
}

// linuxIPParams renders the network. IPv4 goes in the kernel's own ip=
// format (ip=<client>::<gateway>:<netmask>:<host>:<device>:off:<dns0>:<dns1>,
// IPv4 resolvers only), so a kernel with IP_PNP configures eth0 itself and
// urunit does it otherwise; what ip= cannot carry goes in urunit's own
// parameters (internal/urunit): the MTU, the IPv6 address and gateway, and
// the IPv6 resolvers. An IPv6-only network has no ip= at all.
func linuxIPParams(n *Net) (string, error) {
	if n.IP == "" && n.IP6 == "" {
		return "", fmt.Errorf("linux guest: %w: network has neither an IPv4 nor an IPv6 address", ErrInvalidSpec)
	}
	var params []string
	if n.IP != "" {
		ip, err := linuxIPv4Param(n)
		if err != nil {
			return "", err
		}
		params = append(params, ip)
	}
	if n.MTU > 0 {
		params = append(params, urunit.MTUParam+strconv.Itoa(n.MTU))
	}
	if n.IP6 != "" {
		ip6, err := linuxIPv6Params(n)
		if err != nil {
			return "", err
		}
		params = append(params, ip6...)
	}
	return strings.Join(params, " "), nil
}

// linuxIPv4Param renders ip=.
func linuxIPv4Param(n *Net) (string, error) {
	ip := net.ParseIP(n.IP).To4()
	if ip == nil || n.PrefixLen < 1 || n.PrefixLen > 32 {
		return "", fmt.Errorf("linux guest: %w: network address %q/%d is not IPv4", ErrInvalidSpec, n.IP, n.PrefixLen)
	}
	gw := ""
	if n.Gateway != "" {
		g := net.ParseIP(n.Gateway).To4()
		if g == nil {
			return "", fmt.Errorf("linux guest: %w: gateway %q is not IPv4", ErrInvalidSpec, n.Gateway)
		}
		gw = g.String()
	}
	mask := net.IP(net.CIDRMask(n.PrefixLen, 32)).String()
	fields := []string{ip.String(), "", gw, mask, "", "eth0", "off"}
	for _, d := range n.DNS {
		if len(fields) == 9 {
			break // ip= has room for two resolvers
		}
		if v4 := net.ParseIP(d).To4(); v4 != nil {
			fields = append(fields, v4.String())
		}
	}
	return "ip=" + strings.Join(fields, ":"), nil
}

// linuxIPv6Params renders urunit.ip6= and, when there are IPv6 resolvers,
// urunit.dns6=.
func linuxIPv6Params(n *Net) ([]string, error) {
	c := urunit.IP6{Addr: net.ParseIP(n.IP6), PrefixLen: n.PrefixLen6}
	if c.Addr == nil || c.Addr.To4() != nil || !c.Addr.IsGlobalUnicast() || n.PrefixLen6 < 1 || n.PrefixLen6 > 128 {
		return nil, fmt.Errorf("linux guest: %w: network address %q/%d is not a global IPv6 address", ErrInvalidSpec, n.IP6, n.PrefixLen6)
	}
	if n.Gateway6 != "" {
		c.Gateway = net.ParseIP(n.Gateway6)
		if c.Gateway == nil || c.Gateway.To4() != nil {
			return nil, fmt.Errorf("linux guest: %w: IPv6 gateway %q is not IPv6", ErrInvalidSpec, n.Gateway6)
		}
	}
	out := []string{urunit.IP6Param + c.String()}
	var dns []net.IP
	for _, d := range n.DNS {
		if ip := net.ParseIP(d); ip != nil && ip.To4() == nil {
			dns = append(dns, ip)
		}
	}
	if len(dns) > 0 {
		out = append(out, urunit.DNS6Param+urunit.FormatDNS6(dns))
	}
	return out, nil
}

func checkLinuxArgs(s Spec) error {
	if len(s.Args) == 0 {
		return fmt.Errorf("linux guest: %w: process.args is empty", ErrInvalidSpec)
	}
	if s.Args[0] == "" {
		return fmt.Errorf("linux guest: %w: process.args[0] is empty", ErrInvalidSpec)
	}
	return nil
}

// OrdersNet implements Templater: the network as the kernel parameters
// Boot would put on the command line; "" for no network.
func (linux) OrdersNet(n *Net) (string, error) {
	if n == nil {
		return "", nil
	}
	return linuxIPParams(n)
}
