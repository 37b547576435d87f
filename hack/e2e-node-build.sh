#!/usr/bin/env bash
# e2e-node-build.sh builds, from the Go module proxy alone, what Kubernetes'
# node conformance suite needs beside kubelet: e2e_node.test (the test binary
# of k8s.io/kubernetes/test/e2e_node), ginkgo (the CLI of the ginkgo library
# e2e_node.test links, so the two speak the same protocol) and agnhost (the
# test image's binary, which hack/e2e-node-images.sh packs). All three are
# built at KUBERNETES_VERSION in test/kubelet, the wrapper module that
# hack/kubelet.sh builds kubelet in, so they share its dependency graph and
# Go build cache; kubelet itself comes from hack/kubelet.sh.
#
# As hack/kubelet.sh does, it leaves a stamp (_output/.stamps/e2e-node) with
# the version, the Go toolchain and the wrapper's go.sum, and skips the build
# while the binaries exist and the stamp matches. Cold, on two cores, expect
# 15 to 25 minutes; set NICE=0 to build at normal priority.
#
# Usage: hack/e2e-node-build.sh   (from anywhere; needs the module proxy when cold)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
STAMP="${OUT}/.stamps/e2e-node"
BIN="${OUT}/bin"
MODDIR="${ROOT}/test/kubelet"
NICE="${NICE:-10}"

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"

die() {
	printf 'e2e-node-build.sh: %s\n' "$*" >&2
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
if [[ -x "${BIN}/e2e_node.test" && -x "${BIN}/ginkgo" && -x "${BIN}/agnhost" &&
	-f "${STAMP}" && "$(<"${STAMP}")" == "${want}" ]]; then
	printf 'e2e_node.test, ginkgo and agnhost %s up to date\n' "${KUBERNETES_VERSION}"
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
build build -ldflags "-s -w" -o "${BIN}/ginkgo.new" github.com/onsi/ginkgo/v2/ginkgo
build build -ldflags "-s -w -X main.Version=${agnhost_version}" -o "${BIN}/agnhost.new" k8s.io/kubernetes/test/images/agnhost
build test -c -vet=off -ldflags "${ldflags}" -o "${BIN}/e2e_node.test.new" k8s.io/kubernetes/test/e2e_node

out="$("${BIN}/ginkgo.new" version 2>&1)" || true
[[ "${out}" == "Ginkgo Version ${ginkgo_version#v}" ]] ||
	die "the built ginkgo reports '${out}', the graph has ginkgo ${ginkgo_version}"
out="$("${BIN}/agnhost.new" --version 2>&1)" || true
[[ "${out}" == *"${agnhost_version}"* ]] || die "the built agnhost reports '${out}', not ${agnhost_version}"
[[ "$(head -c4 "${BIN}/e2e_node.test.new")" == $'\x7fELF' ]] || die "the built e2e_node.test is not an executable"
for b in ginkgo agnhost e2e_node.test; do
	mv "${BIN}/${b}.new" "${BIN}/${b}"
done
printf '%s\n' "${want}" >"${STAMP}"
printf 'built e2e_node.test, ginkgo %s and agnhost %s (%s) in %ds\n' \
	"${ginkgo_version}" "${agnhost_version}" "${KUBERNETES_VERSION}" "$((SECONDS - start))"
