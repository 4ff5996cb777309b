#!/usr/bin/env bash
# fetch-kernel.sh DEST_DIR
#
# Fetches the Debian 12 cloud kernel (linux-image-6.1.0-*-cloud-amd64) without
# installing it: the .deb is downloaded with apt-get download and unpacked with
# dpkg -x into a temporary directory. Writes DEST_DIR/vmlinuz (bzImage),
# DEST_DIR/config and DEST_DIR/version, and, when the lz4 tool is installed,
# DEST_DIR/vmlinux: the uncompressed ELF kernel, which QEMU boots through its
# PVH entry point ~0.25 s faster under TCG (no decompression in the guest).
# It also copies the modules a single-application guest needs (virtio, its
# MMIO transport, virtio-net, virtio-blk, pvpanic: all modules in Debian's
# cloud kernel) to DEST_DIR/modules/lib/modules/<version>/, ready to be laid
# into an image rootfs; urunit loads them at boot.
# Idempotent: does nothing when DEST_DIR/vmlinuz and the modules already
# exist (set FORCE=1 to fetch again).
set -euo pipefail

die() {
	echo "fetch-kernel: $*" >&2
	exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 DEST_DIR"
dest=$1

# Guest modules, in load order (each after those it depends on).
guest_modules=(
	drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko drivers/virtio/virtio_mmio.ko
	net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko
	drivers/block/virtio_blk.ko drivers/misc/pvpanic/pvpanic.ko drivers/misc/pvpanic/pvpanic-mmio.ko
	drivers/char/virtio_console.ko
	net/vmw_vsock/vsock.ko net/vmw_vsock/vmw_vsock_virtio_transport_common.ko
	net/vmw_vsock/vmw_vsock_virtio_transport.ko
)

# A cache made with a shorter module list is redone.
if [[ -s "$dest/vmlinuz" && -s "$dest/modules/order" && -z "${FORCE:-}" ]] &&
	grep -qx virtio_console "$dest/modules/order"; then
	echo "fetch-kernel: $dest/vmlinuz already present, skipping"
	exit 0
fi

for tool in apt-get apt-cache dpkg; do
	command -v "$tool" >/dev/null || die "missing tool $tool (needs a Debian host)"
done

# resolve_package prints the newest linux-image-6.1.0-*-cloud-amd64 package
# name the metapackage points at.
resolve_package() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-6\.1\.0-.*-cloud-amd64/ { print $2 }' |
		sort -V | tail -n 1
}

# extract_vmlinux BZIMAGE DEST_DIR writes DEST_DIR/vmlinux from the
# LZ4-compressed payload of a bzImage (Debian's CONFIG_KERNEL_LZ4). Optional:
# it only warns when lz4 is missing or the payload is not LZ4.
extract_vmlinux() {
	if ! command -v lz4 >/dev/null; then
		echo "fetch-kernel: lz4 not installed, not extracting vmlinux (apt-get install lz4)" >&2
		return 0
	fi
	local offset
	offset=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$1" | head -n 1 | cut -d: -f1 || true)
	if [[ -n "$offset" ]]; then
		# lz4 exits non-zero on the bytes that follow the payload; the
		# result is checked below instead.
		tail -c "+$((offset + 1))" "$1" | lz4 -dc >"$2/vmlinux.tmp" 2>/dev/null || true
	fi
	if [[ ! -s "$2/vmlinux.tmp" || "$(head -c 4 "$2/vmlinux.tmp" | od -An -c | tr -d ' ')" != '177ELF' ]]; then
		rm -f "$2/vmlinux.tmp"
		echo "fetch-kernel: no LZ4 payload in $1, not extracting vmlinux" >&2
		return 0
	fi
	mv -f "$2/vmlinux.tmp" "$2/vmlinux"
}

pkg=$(resolve_package || true)
if [[ -z "$pkg" ]]; then
	echo "fetch-kernel: package lists lack linux-image-cloud-amd64, running apt-get update" >&2
	apt-get update -qq || die "apt-get update failed"
	pkg=$(resolve_package || true)
fi
[[ -n "$pkg" ]] || die "cannot resolve linux-image-6.1.0-*-cloud-amd64 from linux-image-cloud-amd64"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's _apt sandbox user must be able to write here

echo "fetch-kernel: downloading $pkg"
(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) || die "apt-get download $pkg failed"
deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
[[ -n "$deb" ]] || die "apt-get download produced no .deb for $pkg"

dpkg -x "$deb" "$tmp/root" || die "dpkg -x $deb failed"
version=${pkg#linux-image-}
kernel="$tmp/root/boot/vmlinuz-$version"
config="$tmp/root/boot/config-$version"
[[ -f "$kernel" ]] || die "$pkg has no /boot/vmlinuz-$version"

mkdir -p "$dest" || die "cannot create $dest"
install -m 0644 "$kernel" "$dest/vmlinuz.tmp"
[[ -f "$config" ]] && install -m 0644 "$config" "$dest/config"
echo "$version" >"$dest/version"
extract_vmlinux "$kernel" "$dest"
rm -rf "$dest/modules"
moddir="$dest/modules/lib/modules/$version"
for m in "${guest_modules[@]}"; do
	src="$tmp/root/lib/modules/$version/kernel/$m"
	if [[ -f "$src" ]]; then
		install -D -m 0644 "$src" "$moddir/kernel/$m"
		echo "$(basename "$m" .ko)" >>"$dest/modules/order.tmp"
	fi
done
mv -f "$dest/modules/order.tmp" "$dest/modules/order"
mv -f "$dest/vmlinuz.tmp" "$dest/vmlinuz"
echo "fetch-kernel: wrote $dest/vmlinuz ($version)"
