#!/usr/bin/env bash
# Runs a Linux-guest unikernel container end to end with the freshly built
# urunc: a bundle whose rootfs holds the Debian cloud kernel and the static
# hello app, booted under QEMU; the guest's output and exit status are the
# container's.
set -euo pipefail
bin=${1:?usage: demo.sh BIN_DIR KERNEL}
kernel=${2:?usage: demo.sh BIN_DIR KERNEL}
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (containers and VMs are created for real)" >&2; exit 1; }

work=$(mktemp -d /tmp/urunc-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs/boot"
cp "$kernel" "$work/bundle/rootfs/boot/vmlinuz"
cp "$bin/hello" "$work/bundle/rootfs/hello"
# Debian's kernel builds virtio_console, the driver of urunit's agent (the
# exact exit status), as a module: ship the ones `make kernel` kept.
if [ -d "$(dirname "$kernel")/modules/lib" ]; then
	cp -a "$(dirname "$kernel")/modules/lib" "$work/bundle/rootfs/"
fi
cat > "$work/config.toml" <<TOML
[linux]
urunit = "$bin/urunit"
TOML
cat > "$work/bundle/config.json" <<'JSON'
{
  "ociVersion": "1.2.0",
  "process": {"args": ["/hello", "42"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
  ],
  "annotations": {
    "com.urunc.unikernel.unikernelType": "linux",
    "com.urunc.unikernel.hypervisor": "qemu",
    "com.urunc.unikernel.binary": "/boot/vmlinuz"
  },
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]}
}
JSON
echo "demo: urunc run (kernel $kernel under QEMU; app prints a line and exits 42)"
set +e
start=$(date +%s%N)
"$bin/urunc" --root "$work/state" --config "$work/config.toml" run --bundle "$work/bundle" urunc-demo
status=$?
end=$(date +%s%N)
set -e
echo "demo: container exited with status $status after $(( (end - start) / 1000000 )) ms"
[ "$status" -eq 42 ] || { echo "demo: expected status 42" >&2; exit 1; }
