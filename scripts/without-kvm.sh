#!/usr/bin/env bash
# without-kvm.sh CMD [ARG...]: run CMD as on a host without KVM. Where
# /dev/kvm exists, CMD runs in a private mount namespace in which /dev/kvm
# is covered by a character device with no driver (0:0), so it exists but
# every open fails (ENXIO); the host's /dev/kvm is untouched. Where there
# is no /dev/kvm, CMD runs as it is.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
if [ ! -e /dev/kvm ]; then
	exec "$@"
fi
if [ -z "${URUNC_NOKVM_NODE:-}" ]; then
	dir=$(mktemp -d /tmp/urunc-nokvm.XXXXXX)
	trap 'rm -rf "$dir"' EXIT
	mknod "$dir/kvm" c 0 0
	# Re-enter in a new mount namespace (unshare makes its mounts private).
	URUNC_NOKVM_NODE="$dir/kvm" unshare --mount "$0" "$@"
	exit
fi
mount --bind "$URUNC_NOKVM_NODE" /dev/kvm
if (exec 3<>/dev/kvm) 2>/dev/null; then
	echo "without-kvm: /dev/kvm still opens after covering it" >&2
	exit 1
fi
exec "$@"
