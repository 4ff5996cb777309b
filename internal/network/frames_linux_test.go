package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is sizeof(struct virtio_net_hdr), which precedes every frame on
// a tap opened with IFF_VNET_HDR (the kernel default header size).
const vnetHdrLen = 10

// openTap attaches to an existing tap in the current network namespace the
// way QEMU does.
func openTap(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f, err := attachTap(fd, name)
	if err != nil {
		unix.Close(fd)
	}
	return f, err
}

// attachTap binds an open /dev/net/tun descriptor to the tap name, looked up
// in the namespace the descriptor was opened in, with the caller's
// credentials checked against the tap's owner.
func attachTap(fd int, name string) (*os.File, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// readFrame returns the first Ethernet frame read from the tap that match
// accepts, or nil when none came within timeout.
func readFrame(tap *os.File, timeout time.Duration, match func([]byte) bool) ([]byte, error) {
	if err := tap.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	buf := make([]byte, 65536)
	for {
		n, err := tap.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if n > vnetHdrLen && match(buf[vnetHdrLen:n]) {
			return append([]byte(nil), buf[vnetHdrLen:n]...), nil
		}
	}
}

// writeFrame writes an Ethernet frame to the tap as a guest would.
func writeFrame(tap *os.File, frame []byte) error {
	_, err := tap.Write(append(make([]byte, vnetHdrLen), frame...))
	return err
}

func ethernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	f := append(append(append([]byte(nil), dst...), src...), byte(etherType>>8), byte(etherType))
	f = append(f, payload...)
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

// isARPRequest reports whether f asks who has ip.
func isARPRequest(f []byte, ip net.IP) bool {
	return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == unix.ETH_P_ARP &&
		binary.BigEndian.Uint16(f[20:]) == 1 && bytes.Equal(f[38:42], ip.To4())
}

// arpReply answers an ARP request: mac has ip, told to (toMAC, toIP).
func arpReply(mac net.HardwareAddr, ip net.IP, toMAC net.HardwareAddr, toIP net.IP) []byte {
	p := []byte{0, 1, 0x08, 0x00, 6, 4, 0, 2}
	p = append(append(p, mac...), ip.To4()...)
	p = append(append(p, toMAC...), toIP.To4()...)
	return ethernet(toMAC, mac, unix.ETH_P_ARP, p)
}

// udpFrame builds an Ethernet/IPv4/UDP frame (UDP checksum 0: none).
func udpFrame(src, dst net.HardwareAddr, srcIP, dstIP net.IP, sport, dport int, payload []byte) []byte {
	ip := make([]byte, 20, 28+len(payload))
	ip[0], ip[8], ip[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(ip[2:], uint16(28+len(payload)))
	copy(ip[12:], srcIP.To4())
	copy(ip[16:], dstIP.To4())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	ip = binary.BigEndian.AppendUint16(ip, uint16(sport))
	ip = binary.BigEndian.AppendUint16(ip, uint16(dport))
	ip = binary.BigEndian.AppendUint16(ip, uint16(8+len(payload)))
	ip = append(ip, 0, 0)
	return ethernet(dst, src, unix.ETH_P_IP, append(ip, payload...))
}

// udpPayload returns the payload of an IPv4/UDP frame to ip:port, or nil.
func udpPayload(f []byte, ip net.IP, port int) []byte {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_IP || f[23] != unix.IPPROTO_UDP ||
		!bytes.Equal(f[30:34], ip.To4()) {
		return nil
	}
	ihl := int(f[14]&0x0f) * 4
	udp := f[14+ihl:]
	if len(udp) < 8 || int(binary.BigEndian.Uint16(udp[2:])) != port {
		return nil
	}
	end := int(binary.BigEndian.Uint16(udp[4:]))
	if end < 8 || end > len(udp) {
		return nil
	}
	return udp[8:end]
}
