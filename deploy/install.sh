#!/usr/bin/env bash
# Installs urunc on a Kubernetes node, or removes it again.
#
#   install.sh install      copy the binaries to HOST_ROOT/usr/local/bin and register the
#                           runtime handler "urunc" in containerd's config
#   install.sh uninstall    remove both again
#
# Both are idempotent: the config gets one block between marker lines, replaced on every
# install and removed on uninstall; nothing else in the file changes. The installer
# DaemonSet (urunc-installer.yaml) runs this with the node's / mounted at /host.
#
# Environment:
#   HOST_ROOT           the node's root folder (default /; /host in the DaemonSet)
#   SRC                 folder with urunc, urunit, containerd-shim-urunc-v2 (default: beside this script, bin/)
#   CONTAINERD_CONFIG   containerd's config, inside HOST_ROOT (default /etc/containerd/config.toml)
#   CONFIG_VERSION      2 (containerd 1.7) or 3 (containerd 2.x) when the config has no `version`
#                       line or does not exist; otherwise taken from the file
#   RUNTIME_NAME        handler name (default urunc): RuntimeClass.handler must match
#   RESTART_CONTAINERD  auto (default: systemctl restart containerd on the host when the config
#                       changed and systemd runs there), yes, or no
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
host=${HOST_ROOT:-/}
host=${host%/}
src=${SRC:-$here/bin}
config=$host${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
name=${RUNTIME_NAME:-urunc}
restart=${RESTART_CONTAINERD:-auto}
bindir=$host/usr/local/bin
binaries=(urunc urunit containerd-shim-urunc-v2)
begin="# BEGIN urunc runtime $name (deploy/install.sh; edits here are overwritten)"
end="# END urunc runtime $name"

die() { echo "install.sh: $*" >&2; exit 1; }
log() { echo "install.sh: $*" >&2; }

# config_version prints the config's schema version: its `version = N` line, else
# CONFIG_VERSION, else 3 when the host's containerd is 2.x.
config_version() {
	local v
	v=$(sed -n 's/^version[[:space:]]*=[[:space:]]*\([0-9]\+\)[[:space:]]*$/\1/p' "$config" 2>/dev/null | head -n1)
	[ -n "$v" ] || v=${CONFIG_VERSION:-}
	if [ -z "$v" ]; then
		local run=()
		[ -z "$host" ] || run=(chroot "$host")
		case "$("${run[@]}" containerd --version 2>/dev/null)" in
		*" v2."* | *" 2."*) v=3 ;;
		*" v1."* | *" 1."*) v=2 ;;
		esac
	fi
	[ -n "$v" ] || die "$config: no version line: set CONFIG_VERSION=2 (containerd 1.7) or 3 (containerd 2.x)"
	echo "$v"
}

# block prints the runtime's table for config version $1.
block() {
	local table
	case $1 in
	3) table="plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.$name" ;;
	2) table="plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.$name" ;;
	*) die "$config: config version $1 is not supported (containerd 1.7 writes 2, containerd 2.x writes 3)" ;;
	esac
	cat <<EOF
$begin
[$table]
  runtime_type = "io.containerd.urunc.v2"
  container_annotations = ["com.urunc.unikernel.*"]
$end
EOF
}

# without_block prints the config without our block and without trailing blank lines.
without_block() {
	[ -e "$config" ] || return 0
	local rest
	rest=$(awk -v b="$begin" -v e="$end" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "$config")
	[ -z "$rest" ] || printf '%s\n' "$rest"
}

# write_config atomically replaces the config with stdin when that differs;
# its status says whether anything changed (0: changed).
write_config() {
	local tmp
	tmp=$(mktemp "$config.urunc.XXXXXX")
	cat >"$tmp"
	if [ -e "$config" ] && cmp -s "$tmp" "$config"; then
		rm -f "$tmp"
		return 1
	fi
	[ ! -e "$config" ] || chmod --reference="$config" "$tmp"
	mv -f "$tmp" "$config"
}

# register adds or refreshes our block for config version $1; status 0 when
# the config changed.
register() {
	local v=$1 rest
	rest=$(without_block)
	# A table of the same name that is not ours would make containerd refuse the file.
	if grep -qE "runtimes\.(\"$name\"|'$name'|$name)\]" <<<"$rest"; then
		die "$config already defines a runtime \"$name\" outside install.sh's block: remove it or set RUNTIME_NAME"
	fi
	mkdir -p "$(dirname "$config")"
	if {
		if [ -n "$rest" ]; then printf '%s\n\n' "$rest"; else printf 'version = %s\n\n' "$v"; fi
		block "$v"
	} | write_config; then
		log "registered runtime $name (io.containerd.urunc.v2) in $config (version $v)"
		return 0
	fi
	log "runtime $name already registered in $config"
	return 1
}

# unregister removes our block; status 0 when the config changed.
unregister() {
	[ -e "$config" ] || return 1
	if without_block | write_config; then
		log "removed runtime $name from $config"
		return 0
	fi
	return 1
}

copy_binaries() {
	local b
	for b in "${binaries[@]}"; do
		[ -x "$src/$b" ] || die "$src/$b missing"
	done
	mkdir -p "$bindir"
	for b in "${binaries[@]}"; do
		if cmp -s "$src/$b" "$bindir/$b"; then
			continue
		fi
		# Beside the target, then a rename: a running shim keeps its old inode.
		install -m 0755 "$src/$b" "$bindir/.$b.urunc-new"
		mv -f "$bindir/.$b.urunc-new" "$bindir/$b"
		log "installed $bindir/$b"
	done
}

remove_binaries() {
	local b
	for b in "${binaries[@]}"; do
		[ ! -e "$bindir/$b" ] || { rm -f "$bindir/$b"; log "removed $bindir/$b"; }
	done
}

# restart_containerd restarts the host's containerd through systemd in the
# host's namespaces (the DaemonSet runs with hostPID).
restart_containerd() {
	case $restart in
	no) log "config changed: restart containerd for it to take effect"; return 0 ;;
	yes | auto) ;;
	*) die "RESTART_CONTAINERD=$restart: want auto, yes or no" ;;
	esac
	local run=()
	[ "$host" = "" ] || run=(nsenter --target 1 --mount --uts --ipc --net --pid --)
	if [ "$restart" = auto ] && ! "${run[@]}" test -d /run/systemd/system 2>/dev/null; then
		log "config changed; no systemd on the host: restart containerd for it to take effect"
		return 0
	fi
	"${run[@]}" systemctl restart containerd || die "systemctl restart containerd failed"
	log "restarted containerd"
}

# check_host warns about what urunc needs on the node but this script does not install.
check_host() {
	[ -x "$host/usr/bin/qemu-system-x86_64" ] || log "warning: $host/usr/bin/qemu-system-x86_64 missing: install qemu-system-x86 on the node"
	[ -e "$host/dev/kvm" ] || log "warning: no /dev/kvm on the node: guests run under TCG (slow)"
	ls "$host"/usr/lib/*/libseccomp.so.2 "$host"/lib/*/libseccomp.so.2 >/dev/null 2>&1 ||
		log "warning: libseccomp.so.2 not found on the node: urunc needs libseccomp2"
}

case ${1:-} in
install)
	# Subshells: a die there is only their exit status.
	version=$(config_version) || exit 1
	block "$version" >/dev/null || exit 1
	copy_binaries
	check_host
	if register "$version"; then restart_containerd; fi
	;;
uninstall)
	if unregister; then restart_containerd; fi
	remove_binaries
	;;
*) die "usage: $0 install|uninstall" ;;
esac
