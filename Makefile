# urunc build, install, test and demo.
GO       ?= go
BIN      ?= $(CURDIR)/bin
CACHE    ?= /var/cache/urunc
KERNEL   ?= $(CACHE)/kernel/vmlinuz
TOOLS    ?= $(CACHE)/tools
GUEST_KERNEL_DIR ?= $(CACHE)/guest-kernel
PREFIX   ?= /usr/local
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# seccomp: libcontainer's container profiles and urunc's own solo5-hvt
# filter (internal/vmmseccomp) need libseccomp; tests and vet see the same code.
TAGS     := seccomp
SHELL    := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: all urunc urunc-fault shim pack urunit hello httpd deps tools k8s-tools kernel guest-kernel guest-kernel-image bench k8s-bench install test k8s-e2e stress unit e2e conformance demo vet fuzz clean

all: urunc shim pack urunit hello httpd

# urunc links runc's libcontainer: cgo for nsenter, libseccomp for seccomp.
urunc:
	CGO_ENABLED=1 $(GO) build -tags $(TAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/urunc ./cmd/urunc

# urunc with the fault-injection switch (internal/fault) for the e2e phase
# walk: never installed, never shipped.
urunc-fault:
	CGO_ENABLED=1 $(GO) build -tags $(TAGS),faultinject -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/urunc-fault ./cmd/urunc

# containerd's runc shim v2, registered as io.containerd.urunc.v2.
shim:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/containerd-shim-urunc-v2 ./cmd/containerd-shim-urunc-v2

# The image packaging tool.
pack:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/urunc-pack ./cmd/urunc-pack

# urunit runs as pid 1 in the guest's initramfs: static, no libc.
urunit:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/urunit ./cmd/urunit

hello:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/hello ./examples/hello

httpd:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/httpd ./examples/httpd

# Host packages: QEMU, libseccomp, busybox for plain-container tests.
deps:
	./scripts/install-deps.sh

# Pinned containerd, ctr, nerdctl, runc, crictl, critest, staticcheck and the
# runtime-tools validation suite (tools/*/go.mod) under $(TOOLS);
# CNI plugins from Debian in /usr/lib/cni.
tools:
	./scripts/install-tools.sh $(TOOLS)

# Kubernetes v1.37 (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy, kubectl) and etcd, built from the Go module proxy
# (tools/kubernetes, tools/etcd; ~20 minutes cold on 2 cores, then cached),
# for the single-node cluster of tests/k8s.
k8s-tools:
	./scripts/install-tools.sh $(TOOLS) kubernetes etcd

# The Debian cloud kernel, unpacked under $(CACHE) without installing it.
kernel: $(KERNEL)
$(KERNEL):
	./scripts/fetch-kernel.sh $(dir $(KERNEL))

# urunc's own minimal guest kernel (kernel/urunc-guest.config on Debian's
# linux-source-6.1): $(GUEST_KERNEL_DIR)/current/{vmlinux,bzImage,config,version}.
# Minutes to build once; a no-op when the cached build matches the fragment.
guest-kernel:
	./scripts/build-guest-kernel.sh $(GUEST_KERNEL_DIR)

# The project kernel as an image that urunc-pack --kernel-image takes, so
# users need not build it: $(GUEST_KERNEL_DIR)/current/guest-kernel.tar.
guest-kernel-image: guest-kernel pack
	$(BIN)/urunc-pack --kernel $(GUEST_KERNEL_DIR)/current/vmlinux --type linux --hypervisor qemu \
		--tag urunc.local/guest-kernel:$$(cat $(GUEST_KERNEL_DIR)/current/version) --format docker \
		--output $(GUEST_KERNEL_DIR)/current/guest-kernel.tar

install: all
	install -D -m 0755 $(BIN)/urunc $(DESTDIR)$(PREFIX)/bin/urunc
	install -D -m 0755 $(BIN)/urunit $(DESTDIR)$(PREFIX)/bin/urunit
	install -D -m 0755 $(BIN)/containerd-shim-urunc-v2 $(DESTDIR)$(PREFIX)/bin/containerd-shim-urunc-v2
	install -D -m 0755 $(BIN)/urunc-pack $(DESTDIR)$(PREFIX)/bin/urunc-pack

# Every Fuzz target in the repository, FUZZTIME each, one worker (the
# targets are found, not listed: a new one is picked up by itself). Seed
# corpora and testdata/fuzz regressions already run under 'go test'.
FUZZTIME ?= 1m
fuzz:
	@for pkg in $$(git grep --untracked -l '^func Fuzz' -- '*_test.go' | xargs -n1 dirname | sort -u); do \
		for t in $$($(GO) test -tags $(TAGS) -list '^Fuzz' ./$$pkg | grep '^Fuzz'); do \
			echo "== ./$$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -tags $(TAGS) -run=NONE -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -parallel 1 ./$$pkg || exit 1; \
		done; \
	done

# staticcheck (pinned in tools/staticcheck) after go vet: it catches what vet
# does not (deprecated APIs such as runc's utils.RecvFile, unused code).
# install-tools.sh builds only it here, and only when its go.mod/go.sum change.
STATICCHECK ?= $(TOOLS)/staticcheck
vet:
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...
	cd tests/k8s && $(GO) vet ./...
	./scripts/install-tools.sh $(TOOLS) staticcheck
	$(STATICCHECK) -tags $(TAGS) ./...
	cd deploy && $(STATICCHECK) ./...
	cd tests/k8s && $(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

# Everything: unit tests and, as root, the end-to-end tests on real QEMU.
# On a host with /dev/kvm, the end-to-end tests run a second time as on a
# host without it (scripts/without-kvm.sh hides it in a mount namespace),
# so a change that only works with KVM fails here too. All of them where
# the CPU has vmx/svm (QEMU then uses KVM in the first run, TCG in the
# second); on a software KVM QEMU runs TCG in both, so only the tests
# whose path depends on the KVM device (KVM_TESTS) run again. Never
# TestConformance: plain containers do not touch /dev/kvm.
KVM_TESTS ?= Standin|Check|KVM|Accel|IPv6OnlyRefused
TEST_ENV := URUNC_BIN=$(BIN) URUNC_KERNEL=$(KERNEL) URUNC_GUEST_KERNEL=$(GUEST_KERNEL_DIR)/current/vmlinux \
	URUNIT_TEST_KERNEL=$(KERNEL) URUNC_TOOLS=$(TOOLS) CGO_ENABLED=1
test: deps all urunc-fault kernel guest-kernel tools vet
	@mkdir -p $(CACHE)
	$(TEST_ENV) $(GO) test -tags $(TAGS) -count=1 -timeout 20m -v ./... 2>&1 | tee $(CACHE)/test.log
	@if [ -e /dev/kvm ]; then \
		if grep -qwE 'vmx|svm' /proc/cpuinfo; then run=.; else run='$(KVM_TESTS)'; fi; \
		echo "== end-to-end tests again, without /dev/kvm (-run '$$run')"; \
		$(TEST_ENV) ./scripts/without-kvm.sh $(GO) test -tags $(TAGS) -count=1 -timeout 20m -v -run "$$run" -skip '^TestConformance$$' ./tests/e2e/ 2>&1 | tee -a $(CACHE)/test.log; \
	else echo "== no /dev/kvm here: the run above was the one without it"; fi
	cd deploy && URUNC_TOOLS=$(TOOLS) $(GO) test -count=1 -v ./... 2>&1 | tee -a $(CACHE)/test.log
	$(MAKE) --no-print-directory k8s-e2e K8S_LOG=$(CACHE)/test.log
	@echo "== skipped tests and why:"; grep -B1 -- '--- SKIP' $(CACHE)/test.log || echo "none"

# Unikernel pods on a real single-node Kubernetes cluster (tests/k8s,
# docs/kubernetes.md): Deployment + Service, scaling, rolling update, Jobs
# and exit codes, volumes, logs and exec, limits, liveness probes, plain
# pods, node restart. `make test` runs it too.
K8S_ENV := URUNC_K8S_MAKE=1 URUNC_BIN=$(BIN) URUNC_TOOLS=$(TOOLS) URUNC_GUEST_KERNEL=$(GUEST_KERNEL_DIR)/current/vmlinux
K8S_LOG ?= $(CACHE)/k8s-e2e.log
k8s-e2e: deps all guest-kernel tools k8s-tools
	@mkdir -p $(CACHE)
	cd tests/k8s && $(K8S_ENV) $(GO) test -count=1 -timeout 30m -v ./... 2>&1 | tee -a $(K8S_LOG)

# The cluster figures (docs/performance.md): Deployment to 3 pods Ready
# (median of K8S_BENCH_ROUNDS) and 20 pods' Ready time and memory, urunc
# against runc in the same cluster.
K8S_BENCH_ROUNDS ?= 5
k8s-bench: deps all guest-kernel tools k8s-tools
	cd tests/k8s && $(K8S_ENV) URUNC_K8S_BENCH=$(K8S_BENCH_ROUNDS) $(GO) test -count=1 -timeout 60m -v -run 'TestKubernetes/Bench' ./...

# Load: 50 create/start/kill/delete cycles at once x 5 rounds through the
# CLI and 20 `ctr run --rm` at once x 3 rounds through containerd, Linux
# guests and plain containers mixed, every status checked and the host
# checked for leaks after each round (tests/e2e/stress_test.go). `make test`
# runs the same tests with small counts (10x2 and 6x2).
STRESS_CLI ?= 50x5
STRESS_CTR ?= 20x3
stress: deps all kernel guest-kernel tools
	@mkdir -p $(CACHE)
	$(TEST_ENV) URUNC_STRESS_CLI=$(STRESS_CLI) URUNC_STRESS_CTR=$(STRESS_CTR) $(GO) test -tags $(TAGS) -count=1 -timeout 60m -v \
		-run '^TestStress' ./tests/e2e/ 2>&1 | tee $(CACHE)/stress.log
	@grep -E 'stress (CLI|ctr) (round|total)' $(CACHE)/stress.log

unit:
	CGO_ENABLED=1 $(GO) test -tags $(TAGS) ./...

# The OCI runtime-tools validation suite (tools/runtime-tools) against runc
# and urunc on plain containers, as root: urunc must pass every TAP test runc
# passes (docs/conformance.md). `make test` runs it too (TestConformance is
# one of the end-to-end tests).
conformance: deps all tools
	$(TEST_ENV) $(GO) test -tags $(TAGS) -count=1 -timeout 10m -v -run '^TestConformance$$' ./tests/e2e/

# urunc vs runc figures (docs/performance.md); results in results/<timestamp>/.
# BENCH_FLAGS narrows it, e.g. -sections af -n-lifecycle 5 (go run ./bench -h).
bench: deps all kernel tools
	$(GO) run ./bench -bin $(BIN) -kernel $(KERNEL) -tools $(TOOLS) $(BENCH_FLAGS)

# Uses the project kernel when `make guest-kernel` has built it (boots
# faster), Debian's cloud kernel otherwise.
demo: deps all kernel
	./scripts/demo.sh $(BIN) $$(test -f $(GUEST_KERNEL_DIR)/current/vmlinux && echo $(GUEST_KERNEL_DIR)/current/vmlinux || echo $(KERNEL))

clean:
	rm -rf $(BIN)
