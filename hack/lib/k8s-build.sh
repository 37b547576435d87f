# shellcheck shell=bash
# k8s-build.sh is what the scripts that build Kubernetes binaries from the
# Go module proxy share (hack/kubelet.sh, hack/e2e-node-build.sh,
# hack/e2e-cluster-build.sh, hack/e2e-cluster-upstream-build.sh). They all
# build in test/kubelet, a wrapper module that requires k8s.io/kubernetes at
# KUBERNETES_VERSION (hack/versions.env), so they share one dependency graph
# and Go build cache; each leaves a stamp in _output/.stamps and skips its
# build while its binaries exist and the stamp matches.
#
# Sourced by those scripts after they set ROOT and STAMP. It sources
# versions.env, sets OUT, BIN (_output/bin) and MODDIR, exports the Go
# environment of every build (module mode, no workspace, the local
# toolchain, pure Go, no paths or VCS data in the binaries), and checks that
# the wrapper requires the version versions.env pins, or the stamps would
# lie about the binaries. Builds run at nice NICE (10 unless set).

OUT="${ROOT}/_output"
BIN="${OUT}/bin"
MODDIR="${ROOT}/test/kubelet"
NICE="${NICE:-10}"

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# modgo runs go with its arguments in the wrapper module, at NICE.
modgo() {
	(cd "${MODDIR}" && nice -n "${NICE}" go "$@")
}

# modversion prints the version of module $1 in the wrapper's graph.
modversion() {
	modgo list -m -f '{{.Version}}' "$1"
}

[[ -n "${KUBERNETES_VERSION:-}" ]] || die "KUBERNETES_VERSION is not set in hack/versions.env"
command -v go >/dev/null || die "go is not on PATH"
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0

have="$(modversion k8s.io/kubernetes)"
[[ "${have}" == "${KUBERNETES_VERSION}" ]] ||
	die "test/kubelet/go.mod requires k8s.io/kubernetes ${have}, versions.env says ${KUBERNETES_VERSION} (see its header)"
unset have

# graph_stamp WORDS prints the stamp of a build that follows the wrapper's
# graph, not only the version: the version, the Go toolchain, WORDS and the
# start of the go.sum digest.
graph_stamp() {
	printf '%s' "${KUBERNETES_VERSION} $(go env GOVERSION) $* $(sha256sum "${MODDIR}/go.sum" | cut -c1-16)"
}

# exit_if_current WANT WHAT BINARY...: when the stamp says WANT and every
# BINARY is an executable in BIN, says that WHAT is up to date and ends the
# script: the build is skipped.
exit_if_current() {
	local want="$1" what="$2" b
	shift 2
	for b in "$@"; do
		[[ -x "${BIN}/${b}" ]] || return 0
	done
	[[ -f "${STAMP}" && "$(<"${STAMP}")" == "${want}" ]] || return 0
	printf '%s %s up to date\n' "${what}" "${KUBERNETES_VERSION}"
	exit 0
}

# build_begin removes the stamp (a build that fails leaves none) and starts
# the clock build_seconds reads.
build_begin() {
	rm -f "${STAMP}"
	mkdir -p "${BIN}" "${OUT}/.stamps"
	build_start=${SECONDS}
}

# build_seconds prints how long the build has taken.
build_seconds() {
	echo "$((SECONDS - build_start))"
}

# version_ldflags prints the -ldflags that stamp KUBERNETES_VERSION into a
# Kubernetes binary as its release build does (k8s.io/component-base/version),
# stripped.
version_ldflags() {
	local major minor v=k8s.io/component-base/version
	major="${KUBERNETES_VERSION#v}"
	minor="${major#*.}"
	major="${major%%.*}"
	minor="${minor%%.*}"
	printf '%s' "-X ${v}.gitVersion=${KUBERNETES_VERSION} -X ${v}.gitMajor=${major} -X ${v}.gitMinor=${minor}"
	printf '%s' " -X ${v}.gitTreeState=clean -s -w"
}

# hack/e2e-node-build.sh and hack/e2e-cluster-upstream-build.sh both build,
# beside their test binary and at the versions of the wrapper's graph,
# ginkgo (the CLI of the ginkgo library the test binaries link, so the two
# speak the same protocol) and agnhost (the binary of the agnhost images).

# begin_test_build WHAT BINARY... starts a build of a test binary beside
# ginkgo and agnhost: it sets ginkgo_version and want (the stamp: the
# graph's, with the ginkgo version), ends the script when that build is
# current (exit_if_current WHAT BINARY...), else begins it (build_begin)
# and sets agnhost_version.
begin_test_build() {
	ginkgo_version="$(modversion github.com/onsi/ginkgo/v2)"
	want="$(graph_stamp ginkgo "${ginkgo_version}")"
	exit_if_current "${want}" "$@"
	build_begin
	# shellcheck disable=SC2034 # for the script that called
	agnhost_version="$(<"$(modgo list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/VERSION")"
}

# ginkgo_ok FILE VERSION: FILE is a ginkgo of VERSION (v1.2.3).
ginkgo_ok() {
	[[ "$("$1" version 2>&1)" == "Ginkgo Version ${2#v}" ]]
}

# agnhost_ok FILE VERSION: FILE is an agnhost that reports VERSION.
agnhost_ok() {
	[[ "$("$1" --version 2>&1)" == *"$2"* ]]
}

# build_ginkgo VERSION builds ginkgo into BIN/ginkgo.new and checks it.
build_ginkgo() {
	modgo build -ldflags "-s -w" -o "${BIN}/ginkgo.new" github.com/onsi/ginkgo/v2/ginkgo
	ginkgo_ok "${BIN}/ginkgo.new" "$1" ||
		die "the built ginkgo reports '$("${BIN}/ginkgo.new" version 2>&1)', the graph has ginkgo $1"
}

# build_agnhost VERSION builds agnhost into BIN/agnhost.new and checks it.
build_agnhost() {
	modgo build -ldflags "-s -w -X main.Version=$1" -o "${BIN}/agnhost.new" k8s.io/kubernetes/test/images/agnhost
	agnhost_ok "${BIN}/agnhost.new" "$1" ||
		die "the built agnhost reports '$("${BIN}/agnhost.new" --version 2>&1)', not $1"
}
