#!/usr/bin/env bash
# deps.sh installs the Debian packages Berth's runtime stack needs and builds
# that stack (containerd and ctr, runc, the CNI plugins, crictl, critest and the
# golangci-lint the Makefile runs) from the Go module proxy, at the versions
# pinned in hack/versions.env, into _output/.
#
# It owns nothing outside _output/ apart from the Debian packages: nothing
# goes to /usr/local or /opt, and the repository's own go.mod is never used,
# because every component is built as its own main module.
#
# Each component leaves a stamp in _output/.stamps/<name> naming the version
# and Go toolchain it was built with. A component whose binaries exist and
# whose stamp matches is skipped, so a second run rebuilds nothing and
# changing one version in versions.env rebuilds only that component.
#
# Usage: hack/deps.sh   (as root, from anywhere; `make deps` runs it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
STAMPS="${OUT}/.stamps"

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"

APT_PACKAGES=(
	iptables       # berthd's hostport and masquerade rules, portmap plugin
	libseccomp-dev # runc's seccomp build tag links against libseccomp
	pkg-config     # how runc's cgo build finds libseccomp
	util-linux     # mount, nsenter, unshare
	iproute2       # ip, for inspecting and testing pod networking
	conntrack      # flushing stale UDP entries after portmap changes
	apparmor       # apparmor_parser: tests compile Berth's default profile (no kernel needed)
	systemd        # systemd-analyze: tests verify deploy/systemd's units (no systemd as PID 1 needed)
	curl
	jq
	criu           # checkpoint/restore (CheckpointContainer); see docs/checkpoint.md
	crun           # a second OCI runtime: the crun runtime handler of the tests (docs/configuration.md)
)

log() { printf '%s\n' "$*"; }
die() {
	printf 'deps.sh: %s\n' "$*" >&2
	exit 1
}

for v in CONTAINERD_VERSION RUNC_VERSION CNI_PLUGINS_VERSION CRI_TOOLS_VERSION; do
	[[ -n "${!v:-}" ]] || die "${v} is not set in hack/versions.env"
done

install_packages() {
	local missing=() pkg
	for pkg in "${APT_PACKAGES[@]}"; do
		# "ii" is dpkg's "wanted install, installed"; anything else needs apt.
		if [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null)" != ii* ]]; then
			missing+=("${pkg}")
		fi
	done
	if ((${#missing[@]} == 0)); then
		log "debian packages up to date"
		return
	fi
	[[ "$(id -u)" == 0 ]] || die "missing Debian packages (${missing[*]}) and not root to install them"
	local start=${SECONDS}
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
	log "installed debian packages ${missing[*]} in $((SECONDS - start))s"
}

# Every component is a module at a version, built outside any workspace and
# with the toolchain that is installed: a module asking for a newer Go fails
# loudly instead of silently fetching another toolchain.
command -v go >/dev/null || die "go is not on PATH"
export GOWORK=off GOTOOLCHAIN=local
GO_VERSION="$(go env GOVERSION)"
# -trimpath as the upstream release builds do. GOFLAGS from the caller could
# carry -mod=vendor, which none of these module zips can satisfy, and VCS
# stamping would pick up Berth's own git state for the critest copy.
export GOFLAGS="-trimpath -buildvcs=false"

TMP=""
BUILDING=""
cleanup() {
	if [[ -n "${TMP}" ]]; then
		# The go command leaves module files read-only; make them removable.
		chmod -R u+w "${TMP}" 2>/dev/null || true
		rm -rf "${TMP}"
		TMP=""
	fi
}
on_exit() {
	local rc=$?
	cleanup
	if ((rc != 0)) && [[ -n "${BUILDING}" ]]; then
		printf 'deps.sh: building %s failed (exit %d)\n' "${BUILDING}" "${rc}" >&2
	fi
}
trap on_exit EXIT

# up_to_date NAME STAMP BINARY... succeeds when every binary is there and
# the stamp records the same version and toolchain.
up_to_date() {
	local name=$1 want=$2 bin
	shift 2
	[[ -f "${STAMPS}/${name}" && "$(<"${STAMPS}/${name}")" == "${want}" ]] || return 1
	for bin in "$@"; do
		[[ -x "${bin}" ]] || return 1
	done
}

# component NAME VERSION BUILD_FUNC BINARY... builds NAME with BUILD_FUNC
# unless it is up to date. The stamp is dropped before building and written
# only after the binaries were checked, so a failed or interrupted build is
# retried on the next run.
component() {
	local name=$1 version=$2 build=$3
	shift 3
	local want="${version} ${GO_VERSION}"
	if up_to_date "${name}" "${want}" "$@"; then
		log "${name} ${version} up to date"
		return
	fi
	rm -f "${STAMPS}/${name}"
	local start=${SECONDS}
	# Not under || : that would switch off errexit inside the build.
	BUILDING="${name} ${version}"
	"${build}" "${version}"
	BUILDING=""
	printf '%s\n' "${want}" >"${STAMPS}/${name}"
	log "built ${name} ${version} in $((SECONDS - start))s"
}

# expect_output DESCRIPTION PATTERN COMMAND... checks a freshly built binary
# runs and reports what it was built as.
expect_output() {
	local what=$1 pattern=$2 out
	shift 2
	out="$("$@" 2>&1)" || true
	grep -qE -- "${pattern}" <<<"${out}" ||
		die "${what}: expected /${pattern}/ in the output of '$*', got: ${out}"
}

build_containerd() {
	local version=$1
	local mod=github.com/containerd/containerd/v2
	local ldflags="-X ${mod}/version.Version=${version} -X ${mod}/version.Package=${mod}"
	# Pure Go and so static: no_btrfs drops the only cgo snapshotter. The
	# shim is built as containerd's Makefile builds it (CGO off, no_grpc,
	# since it speaks only ttrpc), so it needs nothing from the host libc.
	CGO_ENABLED=0 GOBIN="${OUT}/bin" go install \
		-tags "no_btrfs urfave_cli_no_docs" -ldflags "${ldflags}" \
		"${mod}/cmd/containerd@${version}"
	CGO_ENABLED=0 GOBIN="${OUT}/bin" go install \
		-tags "no_btrfs urfave_cli_no_docs no_grpc" -ldflags "${ldflags}" \
		"${mod}/cmd/containerd-shim-runc-v2@${version}"
	# ctr: the operator's and the tests' way into containerd's image store
	# (ctr -n berth images import), as on any containerd node.
	CGO_ENABLED=0 GOBIN="${OUT}/bin" go install \
		-tags "no_btrfs urfave_cli_no_docs" -ldflags "${ldflags}" \
		"${mod}/cmd/ctr@${version}"
	expect_output containerd "${mod} ${version}" "${OUT}/bin/containerd" --version
	expect_output ctr "${mod} ${version}" "${OUT}/bin/ctr" --version
	expect_output containerd-shim-runc-v2 "Version: +${version}" \
		"${OUT}/bin/containerd-shim-runc-v2" -v
}

build_runc() {
	local version=$1
	# runc embeds its VERSION file, so the module version is already in the
	# binary; -X main.version cannot override a go:embed variable.
	CGO_ENABLED=1 GOBIN="${OUT}/bin" go install \
		-tags "seccomp urfave_cli_no_docs" \
		"github.com/opencontainers/runc@${version}"
	expect_output runc "^runc version ${version#v}$" "${OUT}/bin/runc" --version
	expect_output runc "^libseccomp: [0-9]" "${OUT}/bin/runc" --version
}

CNI_PLUGINS=(bridge host-local loopback portmap)

build_cni_plugins() {
	local version=$1 mod=github.com/containernetworking/plugins pkgs=() p
	for p in plugins/main/bridge plugins/ipam/host-local plugins/main/loopback plugins/meta/portmap; do
		pkgs+=("${mod}/${p}@${version}")
	done
	CGO_ENABLED=0 GOBIN="${OUT}/cni/bin" go install \
		-ldflags "-X ${mod}/pkg/utils/buildversion.BuildVersion=${version}" "${pkgs[@]}"
	for p in "${CNI_PLUGINS[@]}"; do
		# A plugin run without CNI_COMMAND prints its about string.
		expect_output "${p}" "plugin ${version}$" "${OUT}/cni/bin/${p}"
	done
}

build_crictl() {
	local version=$1
	CGO_ENABLED=0 GOBIN="${OUT}/bin" go install \
		-ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=${version#v}" \
		"sigs.k8s.io/cri-tools/cmd/crictl@${version}"
	expect_output crictl "version ${version#v}$" "${OUT}/bin/crictl" --version
}

build_critest() {
	local version=$1 dir
	# critest is a ginkgo test binary, and `go test -c` needs the module as
	# the main module, so build it from a writable copy of the module cache.
	dir="$(go mod download -json "sigs.k8s.io/cri-tools@${version}" | jq -r '.Dir // empty')"
	[[ -d "${dir}" ]] || die "go mod download sigs.k8s.io/cri-tools@${version} gave no directory"
	TMP="$(mktemp -d "${OUT}/.critest.XXXXXX")"
	cp -R "${dir}/." "${TMP}/src"
	chmod -R u+w "${TMP}/src"
	# The module zip has no vendor/ tree, so dependencies come from the proxy.
	(cd "${TMP}/src" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS} -mod=mod" go test -c \
		-ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=${version#v}" \
		-o "${OUT}/bin/critest" ./cmd/critest)
	cleanup
	expect_output critest "version: ${version#v}$" "${OUT}/bin/critest" --version
}

build_golangci_lint() {
	local version=$1 mod=github.com/golangci/golangci-lint/v2
	# Built, as its releases are, with CGO off; `make test-unit` runs it.
	CGO_ENABLED=0 GOBIN="${OUT}/bin" go install \
		-ldflags "-X main.version=${version#v}" "${mod}/cmd/golangci-lint@${version}"
	expect_output golangci-lint "version ${version#v} " "${OUT}/bin/golangci-lint" version
}

main() {
	install_packages
	mkdir -p "${OUT}/bin" "${OUT}/cni/bin" "${STAMPS}"
	# One at a time: each go build already uses both cores.
	component containerd "${CONTAINERD_VERSION}" build_containerd \
		"${OUT}/bin/containerd" "${OUT}/bin/containerd-shim-runc-v2" "${OUT}/bin/ctr"
	component runc "${RUNC_VERSION}" build_runc "${OUT}/bin/runc"
	component cni-plugins "${CNI_PLUGINS_VERSION}" build_cni_plugins \
		"${CNI_PLUGINS[@]/#/${OUT}/cni/bin/}"
	component crictl "${CRI_TOOLS_VERSION}" build_crictl "${OUT}/bin/crictl"
	component critest "${CRI_TOOLS_VERSION}" build_critest "${OUT}/bin/critest"
	component golangci-lint "${GOLANGCI_LINT_VERSION}" build_golangci_lint "${OUT}/bin/golangci-lint"
}

main "$@"
