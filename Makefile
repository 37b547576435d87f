# Berth's build. `make help` lists the targets. Versions of everything built
# from the Go module proxy live in hack/versions.env.
include hack/versions.env

SHELL        := /bin/bash
OUT          := $(CURDIR)/_output
BIN          := $(OUT)/bin
CNI_BIN      := $(OUT)/cni/bin
GO           ?= go
COMMIT       := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BERTH_VERSION ?= 0.1.0
PKG          := github.com/berth-cri/berth
LDFLAGS      := -X $(PKG)/internal/version.Version=$(BERTH_VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT) \
                -X $(PKG)/internal/version.Containerd=$(CONTAINERD_VERSION) -X $(PKG)/internal/version.Runc=$(RUNC_VERSION) \
                -X $(PKG)/internal/version.CNIPlugins=$(CNI_PLUGINS_VERSION)
CNI_CONF_DIR ?= /etc/cni/net.d
# make install: DESTDIR stages into a directory (packaging, tests); PREFIX is
# where binaries (PREFIX/bin) and the systemd units (PREFIX/lib/systemd/system)
# go on the node. BINDIR and UNITDIR may be set on their own too.
DESTDIR      ?=
PREFIX       ?= /usr/local
INSTALL_ENV   = DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' CNI_CONF_DIR='$(CNI_CONF_DIR)' CRUN='$(CRUN)' SRC_BIN='$(BIN)' SRC_CNI_BIN='$(CNI_BIN)'
# Integration tests and the race detector want root and the built stack.
TEST_ENV     := BERTH_BIN_DIR=$(BIN) BERTH_CNI_BIN_DIR=$(CNI_BIN) BERTH_IMAGES_DIR=$(OUT)/images
# test/ is its own module (test-only dependencies stay out of berthd's):
# its packages run in test-integration, from inside it.
UNIT_PKGS     = ./...
INTEG_PKGS    = ./...
LINT         := $(BIN)/golangci-lint
# go test -json shown as plain output, then its skips held against SKIPS:
# a skip not listed there with its reason fails, so does a listed one that
# no longer happens (test/cmd/skip-report).
SKIPS        ?= $(CURDIR)/test/expected-skips.txt
SKIP_REPORT   = $(GO) -C $(CURDIR)/test run ./cmd/skip-report --expected $(SKIPS)
# The integration tests that test-integration runs again against a
# race-enabled berthd (make build-race): pod lifecycle, concurrent and
# retried runs, events, streaming, concurrent image changes. Under 6 min
# with the machine loaded 20 times over; a restart with 50 pods is left out
# (11 min there).
RACE_TESTS   ?= ^(TestConcurrentRunsWithDuplicateMetadataMakeOneSandboxEach|TestRetryAfterDeadlineGetsTheSandboxTheFirstCallFinished|TestContainerEventsFollowAPodsLife|TestStreaming|TestImageIndexAgreesWithContainerdAfterConcurrentChanges)$$

.DEFAULT_GOAL := help
.PHONY: help build build-race run install uninstall installer-context test test-unit test-integration critest e2e-kubelet e2e-cluster e2e-cluster-quick e2e-cluster-upstream test-node test-node-smoke bench-node e2e-node e2e-node-quick bench bench-kubelet fuzz deps images clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build berthd and berth-pause into _output/bin
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/berthd ./cmd/berthd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/berth-pause ./cmd/berth-pause

build-race: ## Build berthd with the race detector as _output/bin/berthd-race (beside the stack it runs; test-integration's race pass)
	CGO_ENABLED=1 $(GO) build -race -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/berthd-race ./cmd/berthd

deps: ## Install Debian packages and build the pinned containerd, runc, CNI plugins, crictl, critest
	@hack/deps.sh

images: build ## Build the test images and the loopback registry (reproducible, offline)
	@hack/images.sh

run: deps build ## Run berthd in the foreground with its embedded containerd (as root)
	@if ! ls $(CNI_CONF_DIR)/*.conf* $(CNI_CONF_DIR)/*.json >/dev/null 2>&1; then \
		install -D -m 0644 deploy/cni/10-berth.conflist $(CNI_CONF_DIR)/10-berth.conflist; \
		echo "installed the default CNI network config $(CNI_CONF_DIR)/10-berth.conflist"; \
	fi
	@echo "berthd serves on /run/berth/berth.sock; try: $(BIN)/crictl --runtime-endpoint unix:///run/berth/berth.sock info"
	exec $(BIN)/berthd --cni-bin-dir $(CNI_BIN) --cni-conf-dir $(CNI_CONF_DIR)

install: build ## Install berthd, the pinned containerd, runc, CNI plugins and crictl, config, CNI conflist and systemd units (DESTDIR, PREFIX, CRUN=yes; docs/install.md)
	@$(INSTALL_ENV) hack/install.sh install

uninstall: ## Remove what make install wrote, except files changed since (an edited config is kept)
	@$(INSTALL_ENV) hack/install.sh uninstall

installer-context: build ## Stage the DaemonSet installer image's build context in _output/installer (deploy/kubernetes/Dockerfile)
	@$(INSTALL_ENV) hack/install.sh stage $(OUT)/installer

test: deps build images test-unit fuzz test-integration critest e2e-kubelet e2e-node-quick e2e-cluster-quick ## Everything CI runs: unit, a short fuzz pass, integration, critest, a real kubelet, a node conformance subset, a node joining a one-node cluster

test-unit: ## gofmt, go vet, golangci-lint and unit tests with -race (root-only ones run when root); fails on a skip not in test/expected-skips.txt
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./... && cd test && $(GO) vet ./...
	@[ -x $(LINT) ] || { echo "$(LINT) is missing: run make deps"; exit 1; }
	$(LINT) run ./... && cd test && $(LINT) run ./...
	set -o pipefail; $(TEST_ENV) $(GO) test -race -json -count=1 $(UNIT_PKGS) | $(SKIP_REPORT)

test-integration: build build-race ## Integration tests: real berthd, containerd, runc, CNI over the CRI socket (root); then RACE_TESTS against a race-enabled berthd
	set -o pipefail; cd test && $(TEST_ENV) $(GO) test -json -count=1 -p 1 -timeout 30m $(INTEG_PKGS) | $(SKIP_REPORT)
	cd test && $(TEST_ENV) BERTH_BERTHD=$(BIN)/berthd-race $(GO) test -count=1 -p 1 -timeout 20m -run '$(RACE_TESTS)' ./integration

critest: deps build images ## critest v1.37.0 against a fresh berthd (RUNTIME_HANDLER=crun: under crun); fails on a failure not in test/critest/expected-failures.txt
	@RUNTIME_HANDLER='$(RUNTIME_HANDLER)' hack/critest.sh

# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" when the time runs
# out under load (golang/go#75804, fixed in Go 1.27). 20000 runs take 2 to
# 10 s per target here; FUZZTIME=10m still works for a long pass.
FUZZTIME ?= 20000x
fuzz: ## Every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m for a long pass)
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
		for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2); do \
			echo "fuzz $$target in $$dir for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$dir || exit 1; \
		done; \
	done

e2e-kubelet: deps build images ## kubelet (KUBERNETES_VERSION, built once into _output/bin) standalone against a fresh berthd: static pods, probes, hostPort, restarts, logs, stats, teardown
	@hack/e2e-kubelet.sh

e2e-cluster: deps build images ## A one-node cluster (etcd, API server, controller-manager, scheduler, kubelet; KUBERNETES_VERSION, built once) on a berthd from make install: node, Deployment, kubectl exec/attach/logs/port-forward/cp, pod status, DaemonSet upgrade in place (UPGRADE=false skips it; docs/kubelet.md)
	@hack/e2e-cluster.sh

e2e-cluster-quick: deps build images ## The first three checks of make e2e-cluster, what make test runs: the cluster's node registers Ready with berth://<version> and the pause image
	@QUICK=true hack/e2e-cluster.sh

e2e-cluster-upstream: deps build images ## make e2e-cluster, then Kubernetes' e2e.test on it: the [Conformance] specs of test/e2e/upstream/focus.txt (DaemonSet, pods, exec, logs, probes, configMap/secret/downward API volumes), held against test/e2e/upstream/expected-failures.txt (PROCS; long: not in make test)
	@UPSTREAM=true hack/e2e-cluster.sh

test-node: deps build images ## Berth installed on a Debian VM with cgroup v2 and systemd as PID 1 (QEMU; image cached in _output/test-node): checks, kubelet, critest subset (docs/test-node.md)
	@hack/kubelet.sh
	@hack/e2e-cluster-build.sh
	@hack/test-node.sh

test-node-smoke: deps build images ## The test-node subset CI runs after make test: one VM (apparmor), berth.service, a pod in its systemd slice, stats, crun, a short critest
	@SMOKE=yes hack/test-node.sh

e2e-node: deps build images ## Kubernetes' node conformance suite (e2e_node.test [NodeConformance], KUBERNETES_VERSION) against a fresh berthd; fails on a failure not in test/e2e-node/expected-failures.txt (PROCS, FOCUS, SKIP; long: not in make test)
	@hack/e2e-node.sh

e2e-node-quick: deps build images ## The node conformance subset make test runs (test/e2e-node/quick-focus.txt: stats, logs, probes, hooks, RuntimeClass)
	@FOCUS="$$(sed -n 's/^focus: //p' test/e2e-node/quick-focus.txt)" KEEP_LOGS_DIR=$(OUT)/e2e-node/quick hack/e2e-node.sh

bench: deps build images ## Berth side by side with containerd's own CRI (same binaries and images): lifecycle, Lists at 500 containers, memory at 100 pods, a real kubelet's 10 static pods to Ready, critest -benchmark
	@hack/bench.sh

bench-node: deps build images ## berth-bench's lifecycle rows on the test node VM (cgroup v2, systemd; QEMU, so ratios only): Berth against containerd's CRI, under runc and under crun (BENCH_ARGS, BENCH_HANDLERS; docs/benchmarks.md)
	@BENCH=yes hack/test-node.sh

bench-kubelet: deps build images ## Only bench's kubelet row: 10 static pods from manifests to Ready, Berth against containerd's CRI, alternating (KUBELET_ROUNDS, 8)
	@BERTH_BENCH=0 CRITEST_BENCH=0 hack/bench.sh

clean: ## Remove Berth's build outputs (keeps the pinned stack and the .deb cache: rm -rf _output for all)
	rm -f $(BIN)/berthd $(BIN)/berth-pause $(BIN)/berth-registry $(BIN)/berth-criloop $(BIN)/berthd-race
	rm -rf $(OUT)/installer $(OUT)/installer-e2e $(OUT)/images/layout $(OUT)/images/pause.tar $(OUT)/.stamps/images
