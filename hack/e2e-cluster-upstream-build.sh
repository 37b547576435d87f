#!/usr/bin/env bash
# e2e-cluster-upstream-build.sh builds, from the Go module proxy alone, what
# the upstream phase of hack/e2e-cluster-upstream.sh runs: e2e.test (the test
# binary of k8s.io/kubernetes/test/e2e, Kubernetes' cluster conformance
# suite), ginkgo (the CLI of the ginkgo library e2e.test links, which runs
# it in parallel processes) and agnhost (the binary hack/e2e-node-images.sh
# packs into the agnhost images the suite runs). All are built at KUBERNETES_VERSION in
# test/kubelet, the wrapper module hack/kubelet.sh builds kubelet in, so
# they share its dependency graph and Go build cache. agnhost is the same
# build as hack/e2e-node-build.sh's, as is ginkgo; existing ones of the
# right version are kept.
#
# As hack/kubelet.sh does, it leaves a stamp (_output/.stamps/e2e-cluster-upstream)
# with the version, the Go toolchain and the wrapper's go.sum, and skips the
# build while the binaries exist and the stamp matches. With the kubelet and
# control plane already built (a warm Go cache), on two cores, expect about
# 15 minutes; set NICE=0 to build at normal priority.
#
# Usage: hack/e2e-cluster-upstream-build.sh   (from anywhere; needs the module proxy when cold)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
STAMP="${OUT}/.stamps/e2e-cluster-upstream"
BIN="${OUT}/bin"
MODDIR="${ROOT}/test/kubelet"
NICE="${NICE:-10}"

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"

die() {
	printf 'e2e-cluster-upstream-build.sh: %s\n' "$*" >&2
	exit 1
}

[[ -n "${KUBERNETES_VERSION:-}" ]] || die "KUBERNETES_VERSION is not set in hack/versions.env"
command -v go >/dev/null || die "go is not on PATH"
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0

have="$(cd "${MODDIR}" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "${have}" == "${KUBERNETES_VERSION}" ]] ||
	die "test/kubelet/go.mod requires k8s.io/kubernetes ${have}, versions.env says ${KUBERNETES_VERSION}"

ginkgo_version="$(cd "${MODDIR}" && go list -m -f '{{.Version}}' github.com/onsi/ginkgo/v2)"
want="${KUBERNETES_VERSION} $(go env GOVERSION) ginkgo ${ginkgo_version} $(sha256sum "${MODDIR}/go.sum" | cut -c1-16)"
if [[ -x "${BIN}/e2e.test" && -x "${BIN}/agnhost" && -x "${BIN}/ginkgo" && -f "${STAMP}" && "$(<"${STAMP}")" == "${want}" ]]; then
	printf 'e2e.test, ginkgo and agnhost %s up to date\n' "${KUBERNETES_VERSION}"
	exit 0
fi

rm -f "${STAMP}"
mkdir -p "${BIN}" "${OUT}/.stamps"
start=${SECONDS}
major="${KUBERNETES_VERSION#v}"
minor="${major#*.}"
major="${major%%.*}"
minor="${minor%%.*}"
v=k8s.io/component-base/version
ldflags="-X ${v}.gitVersion=${KUBERNETES_VERSION} -X ${v}.gitMajor=${major} -X ${v}.gitMinor=${minor}"
ldflags+=" -X ${v}.gitTreeState=clean -s -w"
agnhost_version="$(<"$(cd "${MODDIR}" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/VERSION")"

build() {
	(cd "${MODDIR}" && nice -n "${NICE}" go "$@")
}
# The small ones first: a broken graph shows in a minute, not after the long link.
if [[ ! -x "${BIN}/ginkgo" ]] || [[ "$("${BIN}/ginkgo" version 2>&1)" != "Ginkgo Version ${ginkgo_version#v}" ]]; then
	build build -ldflags "-s -w" -o "${BIN}/ginkgo.new" github.com/onsi/ginkgo/v2/ginkgo
	out="$("${BIN}/ginkgo.new" version 2>&1)" || true
	[[ "${out}" == "Ginkgo Version ${ginkgo_version#v}" ]] ||
		die "the built ginkgo reports '${out}', the graph has ginkgo ${ginkgo_version}"
	mv "${BIN}/ginkgo.new" "${BIN}/ginkgo"
fi
if [[ ! -x "${BIN}/agnhost" ]] || [[ "$("${BIN}/agnhost" --version 2>&1)" != *"${agnhost_version}"* ]]; then
	build build -ldflags "-s -w -X main.Version=${agnhost_version}" -o "${BIN}/agnhost.new" k8s.io/kubernetes/test/images/agnhost
	out="$("${BIN}/agnhost.new" --version 2>&1)" || true
	[[ "${out}" == *"${agnhost_version}"* ]] || die "the built agnhost reports '${out}', not ${agnhost_version}"
	mv "${BIN}/agnhost.new" "${BIN}/agnhost"
fi
build test -c -vet=off -ldflags "${ldflags}" -o "${BIN}/e2e.test.new" k8s.io/kubernetes/test/e2e
out="$("${BIN}/e2e.test.new" --version 2>&1 | head -1)" || true
[[ "${out}" == *"${KUBERNETES_VERSION}"* ]] || die "the built e2e.test reports '${out}', not ${KUBERNETES_VERSION}"
mv "${BIN}/e2e.test.new" "${BIN}/e2e.test"
printf '%s\n' "${want}" >"${STAMP}"
printf 'built e2e.test, ginkgo %s and agnhost %s (%s) in %ds\n' "${ginkgo_version}" "${agnhost_version}" "${KUBERNETES_VERSION}" "$((SECONDS - start))"
