#!/usr/bin/env bash
# Installs the pinned client tools the end-to-end tests drive: containerd,
# ctr and containerd-shim-runc-v2, nerdctl, runc (built with seccomp, for
# side-by-side comparisons), crictl and critest (cri-tools), and Debian's CNI
# plugins (in /usr/lib/cni); staticcheck, which `make vet` runs; and the OCI
# runtime-tools validation suite (in DEST/runtime-tools), which
# tests/e2e/conformance_test.go runs against runc and urunc.
#
#   scripts/install-tools.sh [DEST [TOOL...]]   DEST defaults to /var/cache/urunc/tools
#
# TOOLs (folder names under tools/) build only those: `make vet` builds
# just staticcheck, which needs none of the Debian packages.
# The versions live in tools/<tool>/go.mod and go.sum (one module per tool:
# nerdctl 1.7 and containerd 2.x cannot share one build list). A tool is
# rebuilt only when its stamp file in DEST does not match those files, the
# Go version or the build flags; run with FORCE=1 to rebuild everything.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-/var/cache/urunc/tools}
go=${GO:-go}

die() { echo "install-tools: $*" >&2; exit 1; }
log() { echo "install-tools: $*" >&2; }

# apt_install installs the Debian packages that are missing.
apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}: run as root or apt-get install them"
	log "apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# module_version prints the version tools/<tool>/go.mod pins for module.
module_version() {
	(cd "$repo/tools/$1" && "$go" list -m -f '{{.Version}}' "$2")
}

# build <tool> <tags> <ldflags> <pkg>... builds each package of
# tools/<tool> into DEST, unless the stamp says it is already there.
build() {
	local tool=$1 tags=$2 ldflags=$3 pkg bin
	shift 3
	local dir=$repo/tools/$tool
	[ -f "$dir/go.mod" ] && [ -f "$dir/go.sum" ] || die "tools/$tool/go.mod or go.sum missing"
	local stamp
	stamp="$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1) $("$go" env GOVERSION) tags=$tags ldflags=$ldflags${CGO_ENABLED:+ cgo=$CGO_ENABLED}"
	local have=1
	for pkg in "$@"; do
		[ -x "$dest/$(basename "$pkg")" ] || have=0
	done
	if [ "${FORCE:-0}" != 1 ] && [ $have = 1 ] && [ "$(cat "$dest/.stamp-$tool" 2>/dev/null)" = "$stamp" ]; then
		log "$tool up to date in $dest"
		return 0
	fi
	log "building $tool ($*)"
	local start=$SECONDS tmp
	tmp=$(mktemp -d "$dest/.build-$tool.XXXXXX")
	for pkg in "$@"; do
		bin=$(basename "$pkg")
		# test:PKG is a test binary (critest): go test -c.
		local gocmd=(build)
		case $pkg in test:*) pkg=${pkg#test:} gocmd=(test -c) ;; esac
		(cd "$dir" && "$go" "${gocmd[@]}" -mod=readonly -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp/$bin" "$pkg") ||
			{ rm -rf "$tmp"; die "build $pkg (tools/$tool) failed"; }
	done
	for pkg in "$@"; do
		bin=$(basename "$pkg")
		mv -f "$tmp/$bin" "$dest/$bin"
	done
	rm -rf "$tmp"
	echo "$stamp" >"$dest/.stamp-$tool"
	log "$tool built in $((SECONDS - start))s"
}

only=("${@:2}")
for t in "${only[@]}"; do
	[ -f "$repo/tools/$t/go.mod" ] || die "no tool $t (tools/$t/go.mod)"
done
# want <tool> is true when the command line names it, or names none; the
# cluster tools (kubernetes, etcd: ~20 minutes to build cold) only when named,
# by `make k8s-tools`.
want() {
	local t
	for t in "${only[@]}"; do [ "$t" = "$1" ] && return 0; done
	case $1 in kubernetes | etcd) return 1 ;; esac
	[ ${#only[@]} -eq 0 ]
}

command -v "$go" >/dev/null || die "Go is required (/usr/local/go/bin on PATH)"
if want containerd || want nerdctl || want runc || want cri-tools; then
	# libseccomp-dev and pkg-config: runc's seccomp tag. The CNI plugins: nerdctl's networks.
	apt_install gcc pkg-config libseccomp-dev containernetworking-plugins iptables
	[ -x /usr/lib/cni/bridge ] || die "CNI plugins not found in /usr/lib/cni after installing containernetworking-plugins"
fi
mkdir -p "$dest"
total=$SECONDS

if want containerd; then
	ctrd=$(module_version containerd github.com/containerd/containerd/v2)
	build containerd "urfave_cli_no_docs" "-X github.com/containerd/containerd/v2/version.Version=$ctrd" \
		github.com/containerd/containerd/v2/cmd/containerd \
		github.com/containerd/containerd/v2/cmd/ctr \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
fi

if want nerdctl; then
	nerd=$(module_version nerdctl github.com/containerd/nerdctl)
	build nerdctl "" "-X github.com/containerd/nerdctl/pkg/version.Version=$nerd" \
		github.com/containerd/nerdctl/cmd/nerdctl
fi

if want runc; then
	build runc "seccomp urfave_cli_no_docs" "" github.com/opencontainers/runc
fi

# crictl and critest (a test binary: go test -c) for the CRI tests (tests/e2e/cri_test.go).
if want cri-tools; then
	crit=$(module_version cri-tools sigs.k8s.io/cri-tools)
	build cri-tools "" "-X sigs.k8s.io/cri-tools/pkg/version.Version=${crit#v}" \
		sigs.k8s.io/cri-tools/cmd/crictl test:sigs.k8s.io/cri-tools/cmd/critest
fi

# staticcheck, run by `make vet` (the Makefile's STATICCHECK).
if want staticcheck; then
	build staticcheck "" "" honnef.co/go/tools/cmd/staticcheck
fi

# runtime-tools: runtimetest and one program per validation (every `tool`
# line of its go.mod), in their own folder since their names (start, state,
# kill, ...) would shadow nothing good in DEST. Static (CGO_ENABLED=0):
# runtimetest is copied into the busybox container it checks.
if want runtime-tools; then
	mkdir -p "$dest/runtime-tools"
	mapfile -t rtpkgs < <(cd "$repo/tools/runtime-tools" && "$go" list tool)
	dest=$dest/runtime-tools CGO_ENABLED=0 build runtime-tools "" "" "${rtpkgs[@]}"
fi

# The Kubernetes components and etcd for the single-node cluster of
# tests/k8s (make k8s-e2e, docs/kubernetes.md). Without the version stamp
# they report v0.0.0, which kubectl and the kubelet's checks dislike.
if want kubernetes; then
	apt_install conntrack iptables containernetworking-plugins
	k8s=$(module_version kubernetes k8s.io/kubernetes)
	minor=${k8s#v1.}
	minor=${minor%%.*}
	build kubernetes "" "-X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy \
		k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
fi
if want etcd; then
	build etcd "" "" ./cmd/etcd
fi

if [ ${#only[@]} -eq 0 ]; then
	log "done in $((SECONDS - total))s: $(ls "$dest" | tr '\n' ' ')(CNI plugins: /usr/lib/cni)"
fi
