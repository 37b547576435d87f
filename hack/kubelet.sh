#!/usr/bin/env bash
# kubelet.sh builds kubelet at KUBERNETES_VERSION (hack/versions.env) from the
# Go module proxy into _output/bin/kubelet, for hack/e2e-kubelet.sh. The build
# runs in test/kubelet, a main module of its own that requires
# k8s.io/kubernetes and replaces its ./staging modules with the published
# k8s.io/<name> v0.<minor>.<patch> ones; Berth's own go.mod never sees it.
#
# As hack/deps.sh does, it leaves a stamp (_output/.stamps/kubelet) with the
# version and Go toolchain, and skips the build while the binary exists and
# the stamp matches. A cold build takes minutes on two cores.
#
# Usage: hack/kubelet.sh   (from anywhere; needs the module proxy when cold)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
STAMP="${OUT}/.stamps/kubelet"
BIN="${OUT}/bin/kubelet"
MODDIR="${ROOT}/test/kubelet"

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"

die() {
	printf 'kubelet.sh: %s\n' "$*" >&2
	exit 1
}

[[ -n "${KUBERNETES_VERSION:-}" ]] || die "KUBERNETES_VERSION is not set in hack/versions.env"
command -v go >/dev/null || die "go is not on PATH"
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false"

# test/kubelet/go.mod pins the version it builds; it must be the one in
# versions.env, or the stamp would lie about the binary.
staging="v0.${KUBERNETES_VERSION#v1.}"
have="$(cd "${MODDIR}" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "${have}" == "${KUBERNETES_VERSION}" ]] ||
	die "test/kubelet/go.mod requires k8s.io/kubernetes ${have}, versions.env says ${KUBERNETES_VERSION} (see its header)"
if grep -E '=> k8s.io/' "${MODDIR}/go.mod" | grep -vq " ${staging}\$"; then
	die "test/kubelet/go.mod replaces a staging module with a version other than ${staging}"
fi

want="${KUBERNETES_VERSION} $(go env GOVERSION)"
if [[ -x "${BIN}" && -f "${STAMP}" && "$(<"${STAMP}")" == "${want}" ]]; then
	printf 'kubelet %s up to date\n' "${KUBERNETES_VERSION}"
	exit 0
fi

rm -f "${STAMP}"
mkdir -p "${OUT}/bin" "${OUT}/.stamps"
start=${SECONDS}
major="${KUBERNETES_VERSION#v}"
minor="${major#*.}"
major="${major%%.*}"
minor="${minor%%.*}"
v=k8s.io/component-base/version
ldflags="-X ${v}.gitVersion=${KUBERNETES_VERSION} -X ${v}.gitMajor=${major} -X ${v}.gitMinor=${minor}"
ldflags+=" -X ${v}.gitTreeState=clean -s -w"
# Pure Go, as the release builds kubelet for linux/amd64.
(cd "${MODDIR}" && CGO_ENABLED=0 go build -ldflags "${ldflags}" -o "${BIN}.new" k8s.io/kubernetes/cmd/kubelet)
out="$("${BIN}.new" --version 2>&1)" || true
[[ "${out}" == "Kubernetes ${KUBERNETES_VERSION}" ]] ||
	die "the built kubelet reports '${out}', not 'Kubernetes ${KUBERNETES_VERSION}'"
mv "${BIN}.new" "${BIN}"
printf '%s\n' "${want}" >"${STAMP}"
printf 'built kubelet %s in %ds\n' "${KUBERNETES_VERSION}" "$((SECONDS - start))"
