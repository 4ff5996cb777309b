#!/usr/bin/env bash
# Installs the host packages urunc's build, tests and demo need (Debian 12).
set -euo pipefail
pkgs=(qemu-system-x86 libseccomp-dev busybox-static iproute2 cpio lz4 gcc make podman docker.io)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages ${missing[*]}: run as root or apt-get install them" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "install-deps: Go is required (https://go.dev/doc/install, or /usr/local/go/bin on PATH)" >&2; exit 1; }
