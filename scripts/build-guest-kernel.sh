#!/usr/bin/env bash
# build-guest-kernel.sh [CACHE_DIR]
#
# Builds urunc's own minimal Linux guest kernel from Debian's linux-source-6.1
# package and the project's config fragment kernel/urunc-guest.config.
#
# The result goes to CACHE_DIR/<hash>/ (default CACHE_DIR:
# /var/cache/urunc/guest-kernel), where <hash> covers the fragment, the
# linux-source-6.1 package version and this script's build version, so a
# change to any of them gives a new directory and an unchanged input builds
# nothing. CACHE_DIR/<hash>/ holds:
#   vmlinux   uncompressed ELF with a PVH entry point: QEMU boots it directly
#             with -kernel on microvm (fastest: no decompression in the guest)
#   bzImage   the same kernel, LZ4-compressed, for -kernel on any machine type
#   config    the final .config
#   version   the kernel release (uname -r in the guest)
# and CACHE_DIR/current is a symlink to the newest <hash>.
#
# Steps: install missing build dependencies (apt-get), unpack the source to a
# temporary directory, `make tinyconfig`, merge the fragment with
# scripts/kconfig/merge_config.sh -n (allnoconfig base: what the fragment does
# not ask for stays off), `make olddefconfig`, check that every CONFIG_ line
# of the fragment survived, `make vmlinux bzImage`, install. The temporary
# directory (about 1.5 GB) is removed on exit. Set FORCE=1 to rebuild an
# existing <hash>; TMPDIR chooses where the build runs.
set -euo pipefail

# Bump when the build procedure changes in a way that changes the output.
build_version=1

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment="$script_dir/../kernel/urunc-guest.config"
source_pkg=linux-source-6.1
source_tar=/usr/src/linux-source-6.1.tar.xz
# lz4: the bzImage is LZ4-compressed (CONFIG_KERNEL_LZ4); xz-utils unpacks the source.
build_deps=(build-essential bc bison flex libelf-dev libssl-dev lz4 xz-utils)
start=$SECONDS

log() { echo "build-guest-kernel: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}
elapsed() { echo "$((SECONDS - start))s"; }

[[ $# -le 1 ]] || die "usage: $0 [CACHE_DIR]"
cache=${1:-/var/cache/urunc/guest-kernel}
[[ -f "$fragment" ]] || die "config fragment $fragment not found"
fragment=$(cd "$(dirname "$fragment")" && pwd)/$(basename "$fragment")

for tool in dpkg-query apt-get sha256sum tar; do
	command -v "$tool" >/dev/null || die "missing tool $tool (needs a Debian host)"
done

# pkg_installed NAME succeeds when the Debian package NAME is installed.
pkg_installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# install_packages NAME... installs the packages that are not installed yet.
install_packages() {
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	[[ $EUID -eq 0 ]] || die "missing packages ${missing[*]}; run as root or apt-get install them"
	log "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; then
		log "apt-get install failed, running apt-get update and retrying"
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
}

install_packages "$source_pkg" "${build_deps[@]}"
[[ -f "$source_tar" ]] || die "$source_pkg is installed but $source_tar is missing"
source_version=$(dpkg-query -W -f='${Version}' "$source_pkg")

hash=$({
	echo "build-guest-kernel v$build_version"
	echo "$source_pkg $source_version"
	cat "$fragment"
} | sha256sum | cut -c1-16)
out="$cache/$hash"

# set_current points CACHE_DIR/current at <hash>, atomically.
set_current() {
	ln -sfn "$hash" "$cache/current.tmp.$$"
	mv -Tf "$cache/current.tmp.$$" "$cache/current"
}

mkdir -p "$cache" || die "cannot create $cache"
# One build per cache directory at a time; a second caller waits, then finds
# the result in place.
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

if [[ -z "${FORCE:-}" && -s "$out/vmlinux" && -s "$out/bzImage" && -s "$out/config" && -s "$out/version" ]]; then
	set_current
	log "$out already built ($(cat "$out/version")), nothing to do"
	exit 0
fi

build=$(mktemp -d "${TMPDIR:-/tmp}/urunc-guest-kernel.XXXXXX")
cleanup() {
	rm -rf "$build"
	rm -rf "$out.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building $hash from $source_pkg $source_version in $build"
tar -xf "$source_tar" -C "$build" || die "cannot unpack $source_tar"
src="$build/linux-source-6.1"
[[ -f "$src/Makefile" ]] || die "$source_tar did not unpack to linux-source-6.1/"

kmake() {
	make -C "$src" ARCH=x86_64 KBUILD_BUILD_USER=urunc KBUILD_BUILD_HOST=urunc "$@"
}

# Configure: tinyconfig, then the fragment on an allnoconfig base.
log "configuring ($(elapsed))"
cfglog="$build/config.log"
if ! {
	kmake tinyconfig &&
		(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n .config "$fragment") &&
		kmake olddefconfig
} >"$cfglog" 2>&1; then
	cat "$cfglog" >&2
	die "kernel configuration failed (output above)"
fi

# Every CONFIG_X=v line of the fragment must be in .config exactly, and every
# "# CONFIG_X is not set" line must not be set there.
missing=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF -- "$line" "$src/.config" ||
			missing+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo 'absent: dependencies unmet'))")
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" "$src/.config"; then
			missing+=("$line (got: $(grep "^$sym=" "$src/.config"))")
		fi
		;;
	esac
done <"$fragment"
if [[ ${#missing[@]} -gt 0 ]]; then
	log "these fragment lines did not survive make olddefconfig:"
	printf '  %s\n' "${missing[@]}" >&2
	die "fix $fragment (a dependency is probably missing from it)"
fi

log "compiling vmlinux bzImage with $(nproc) jobs ($(elapsed))"
buildlog="$build/build.log"
if ! kmake -j"$(nproc)" vmlinux bzImage >"$buildlog" 2>&1; then
	tail -n 60 "$buildlog" >&2
	die "kernel build failed (last lines above)"
fi
release=$(kmake -s kernelrelease)

tmpout="$out.tmp.$$"
rm -rf "$tmpout"
mkdir -p "$tmpout"
install -m 0644 "$src/vmlinux" "$tmpout/vmlinux"
install -m 0644 "$src/arch/x86/boot/bzImage" "$tmpout/bzImage"
install -m 0644 "$src/.config" "$tmpout/config"
echo "$release" >"$tmpout/version"
rm -rf "$out"
mv "$tmpout" "$out"
set_current
log "wrote $out ($release): vmlinux $(du -h "$out/vmlinux" | cut -f1), bzImage $(du -h "$out/bzImage" | cut -f1)"
log "done in $(elapsed)"
