// The runtime must not open the cgroup CPU files at start (Go >= 1.25
// keeps them open to track the limit): the descriptor list would then hold
// the stand-in's own files and hide what urunc leaked.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command standin plays a VMM (firecracker, solo5-hvt, solo5-spt,
// cloud-hypervisor) in urunc's end-to-end tests, on hosts where the real
// one cannot be installed. It boots nothing: it records what a VMM would
// get from urunc — argv, environment, namespaces, devices, configuration
// files, capabilities, credentials, open descriptors and the files and taps
// its arguments name — and prints that as one JSON document on stdout.
// Then it exits 0, unless the VMM is given an agent socket (Firecracker's
// and Cloud Hypervisor's hybrid vsock, for a Linux guest): then it also
// plays the guest's agent as urunit would, for the application that
// urunit's config in the initrd names, and exits 0 when that "VM" stops
// (agent.go says what exactly it plays).
//
// It is built by the test (CGO_ENABLED=0, static) and never shipped. It
// uses the standard library only, but for urunc's agent protocol (and
// yamux under it) and urunit's config, and lists its descriptors with
// readlink(2) before anything else runs, so that the list holds exactly
// what it inherited.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Report is what the stand-in prints. tests/e2e decodes the same fields.
type Report struct {
	Argv        []string          `json:"argv"`
	Env         []string          `json:"env"`
	Pid         int               `json:"pid"`
	PPid        int               `json:"ppid"`
	ParentArgv  []string          `json:"parentArgv"` // /proc/<ppid>/cmdline
	UID         int               `json:"uid"`
	GID         int               `json:"gid"`
	Groups      []int             `json:"groups"`
	FDs         map[string]string `json:"fds"`        // inherited descriptor -> target
	Namespaces  map[string]string `json:"namespaces"` // pid, mnt, net, ... -> "net:[4026...]"
	Status      map[string]string `json:"status"`     // Cap*, NoNewPrivs, Seccomp from /proc/self/status
	Devices     map[string]Probe  `json:"devices"`    // /dev/kvm, /dev/net/tun
	ConfigFiles map[string]string `json:"configFiles"`
	Paths       map[string]Probe  `json:"paths"` // absolute paths named by argv or a config file
	Taps        map[string]Probe  `json:"taps"`  // tap names named by argv or a config file
	// Mounts are the per-mount options of every mount the VMM sees, by
	// mount point (mountinfo's sixth field).
	Mounts map[string]string `json:"mounts"`
	// Socket is what socket(AF_INET, SOCK_STREAM) gave: "ok" or the error.
	// No VMM urunc runs needs a stream socket of its own, so a filter urunc
	// installs denies it.
	Socket string `json:"socket"`
	// Guest is the Linux guest the stand-in plays after the report, nil
	// when the VMM is given no agent socket.
	Guest *GuestInfo `json:"guest,omitempty"`
}

// Probe is whether a thing exists and what happened when it was used.
type Probe struct {
	Exists   bool   `json:"exists"`
	Open     string `json:"open,omitempty"`     // "ok" or the error
	Writable bool   `json:"writable,omitempty"` // access(W_OK): owner, mode and a rw mount
}

func main() {
	r := Report{FDs: inheritedFDs()} // first: nothing else is open yet
	r.Argv, r.Env = os.Args, os.Environ()
	r.Pid, r.UID, r.GID = os.Getpid(), os.Getuid(), os.Getgid()
	r.PPid = os.Getppid()
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(r.PPid) + "/cmdline"); err == nil {
		r.ParentArgv = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	r.Groups, _ = os.Getgroups()
	r.Namespaces = namespaces()
	r.Status = status()
	r.Devices = map[string]Probe{"/dev/kvm": openProbe("/dev/kvm"), "/dev/net/tun": openProbe("/dev/net/tun")}
	r.ConfigFiles = configFiles(os.Args[1:])
	r.Paths, r.Taps = map[string]Probe{}, map[string]Probe{}
	collect(os.Args[1:], r.ConfigFiles, r.Paths, r.Taps)
	r.Socket = socketProbe()
	r.Mounts = mounts()
	r.Guest = guestOf(os.Args[1:], r.ConfigFiles)
	out, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(2)
	}
	os.Stdout.Write(append(out, '\n'))
	if r.Guest != nil {
		os.Exit(playGuest(r.Guest))
	}
}

// inheritedFDs reads /proc/self/fd/N for N below the descriptor limit
// without opening anything (an open of the folder would add descriptors,
// and Go's poller its own).
func inheritedFDs() map[string]string {
	fds := map[string]string{}
	var lim syscall.Rlimit
	max := uint64(1024)
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < 65536 {
		max = lim.Cur
	}
	buf := make([]byte, 4096)
	for fd := uint64(0); fd < max; fd++ {
		n, err := syscall.Readlink("/proc/self/fd/"+strconv.FormatUint(fd, 10), buf)
		if err == nil {
			fds[strconv.FormatUint(fd, 10)] = string(buf[:n])
		}
	}
	return fds
}

func namespaces() map[string]string {
	out := map[string]string{}
	for _, ns := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		if l, err := os.Readlink("/proc/self/ns/" + ns); err == nil {
			out[ns] = l
		}
	}
	return out
}

// status returns the credential lines of /proc/self/status.
func status() map[string]string {
	out := map[string]string{}
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp" || k == "Seccomp_filters") {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func mounts() map[string]string {
	out := map[string]string{}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 5 {
			out[f[4]] = f[5]
		}
	}
	return out
}

func socketProbe() string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err.Error()
	}
	syscall.Close(fd)
	return "ok"
}

// openProbe opens a file or device read-write, as a VMM would, and closes it.
func openProbe(path string) Probe {
	p := Probe{Exists: exists(path)}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		p.Open = err.Error()
		return p
	}
	syscall.Close(fd)
	p.Open = "ok"
	return p
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// configFiles reads the files named after --config-file (Firecracker).
func configFiles(args []string) map[string]string {
	out := map[string]string{}
	for i, a := range args {
		if a == "--config-file" && i+1 < len(args) {
			b, err := os.ReadFile(args[i+1])
			if err != nil {
				b = []byte("error: " + err.Error())
			}
			out[args[i+1]] = string(b)
		}
	}
	return out
}

// optionKey is what a flag or an option-list key looks like; a guest
// command line (JSON, kernel parameters) is opaque and does not match.
var optionKey = regexp.MustCompile(`^[-A-Za-z0-9:_]+$`)

// collect probes the absolute paths and tap names found in argv (values of
// key=value lists, --net:<name>=<tap>, tap=<tap>) and in JSON config files
// (string values; host_dev_name is a tap).
func collect(args []string, configs map[string]string, paths, taps map[string]Probe) {
	for _, a := range args {
		if strings.ContainsAny(a, " \t\"{") {
			continue // a guest command line, not the VMM's
		}
		for _, kv := range strings.Split(a, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok && !optionKey.MatchString(k) {
				continue
			}
			switch {
			case ok && (k == "tap" || strings.HasPrefix(k, "--net:")):
				taps[v] = tapProbe(v)
			case ok && strings.HasPrefix(v, "/"):
				probePath(paths, v)
			case !ok && strings.HasPrefix(kv, "/"):
				probePath(paths, kv)
			}
		}
	}
	for _, data := range configs {
		var v any
		if json.Unmarshal([]byte(data), &v) == nil {
			walk("", v, paths, taps)
		}
	}
}

func walk(key string, v any, paths, taps map[string]Probe) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(k, e, paths, taps)
		}
	case []any:
		for _, e := range x {
			walk(key, e, paths, taps)
		}
	case string:
		switch {
		case key == "host_dev_name":
			taps[x] = tapProbe(x)
		case strings.HasPrefix(x, "/"):
			probePath(paths, x)
		}
	}
}

// pathProbe reports whether the file exists, can be opened for reading
// and could be written (block images are opened read-write by a VMM).
// probePath probes path; for a socket the VMM is to create (*.sock), its
// folder too, which must be writable for that.
func probePath(paths map[string]Probe, path string) {
	paths[path] = pathProbe(path)
	if strings.HasSuffix(path, ".sock") {
		paths[filepath.Dir(path)] = pathProbe(filepath.Dir(path))
	}
}

func pathProbe(path string) Probe {
	p := Probe{Exists: exists(path), Writable: syscall.Access(path, 2) == nil}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		p.Open = err.Error()
		return p
	}
	syscall.Close(fd)
	p.Open = "ok"
	return p
}

// Tap flags urunc creates its taps with (and QEMU opens them with).
const (
	iffTap      = 0x0002
	iffNoPI     = 0x1000
	iffVnetHdr  = 0x4000
	tunSetIff   = 0x400454ca
	ifNameSize  = 16
	ifreqLength = 40
)

// tapProbe checks that the tap exists in this network namespace
// (/sys/class/net) and that this process may attach to it (TUNSETIFF on
// /dev/net/tun with the tap's own flags), as the VMM must.
func tapProbe(name string) Probe {
	p := Probe{Exists: exists(filepath.Join("/sys/class/net", name))}
	if len(name) >= ifNameSize {
		p.Open = "name too long"
		return p
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		p.Open = "open /dev/net/tun: " + err.Error()
		return p
	}
	defer syscall.Close(fd)
	var ifr [ifreqLength]byte
	copy(ifr[:], name)
	*(*uint16)(unsafe.Pointer(&ifr[ifNameSize])) = iffTap | iffNoPI | iffVnetHdr
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		p.Open = "TUNSETIFF: " + e.Error()
		return p
	}
	p.Open = "ok"
	return p
}
