#!/usr/bin/env bash
# e2e-cluster-build.sh builds, from the Go module proxy alone, the control
# plane that hack/e2e-cluster.sh runs beside kubelet: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl, at KUBERNETES_VERSION,
# in test/kubelet, the wrapper module hack/kubelet.sh builds kubelet in, so
# they share its dependency graph and Go build cache. etcd is the
# go.etcd.io/etcd/server/v3 of that graph: `go install` of it fails on the
# replace lines of its go.mod, a build in the wrapper does not.
#
# One `go build` for all five, so the packages they share compile once. As
# hack/kubelet.sh does, it leaves a stamp (_output/.stamps/e2e-cluster) with
# the version, the Go toolchain and the wrapper's go.sum, and skips the
# build while the binaries exist and the stamp matches. Cold, on two cores,
# expect 20 to 40 minutes; set NICE=0 to build at normal priority.
#
# Usage: hack/e2e-cluster-build.sh   (from anywhere; needs the module proxy when cold)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
STAMP="${OUT}/.stamps/e2e-cluster"
BIN="${OUT}/bin"
MODDIR="${ROOT}/test/kubelet"
NICE="${NICE:-10}"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"

die() {
	printf 'e2e-cluster-build.sh: %s\n' "$*" >&2
	exit 1
}

[[ -n "${KUBERNETES_VERSION:-}" ]] || die "KUBERNETES_VERSION is not set in hack/versions.env"
command -v go >/dev/null || die "go is not on PATH"
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0

have="$(cd "${MODDIR}" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "${have}" == "${KUBERNETES_VERSION}" ]] ||
	die "test/kubelet/go.mod requires k8s.io/kubernetes ${have}, versions.env says ${KUBERNETES_VERSION}"
etcd_version="$(cd "${MODDIR}" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"

want="${KUBERNETES_VERSION} $(go env GOVERSION) etcd ${etcd_version} $(sha256sum "${MODDIR}/go.sum" | cut -c1-16)"
missing=0
for b in "${BINARIES[@]}"; do [[ -x "${BIN}/${b}" ]] || missing=1; done
if ((!missing)) && [[ -f "${STAMP}" && "$(<"${STAMP}")" == "${want}" ]]; then
	printf '%s %s up to date\n' "${BINARIES[*]}" "${KUBERNETES_VERSION}"
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
tmp="$(mktemp -d "${OUT}/e2e-cluster-build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
# etcd's main package is go.etcd.io/etcd/server/v3: go build names it "server".
(cd "${MODDIR}" && nice -n "${NICE}" go build -ldflags "${ldflags}" -o "${tmp}/" \
	go.etcd.io/etcd/server/v3 \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kubectl)
mv "${tmp}/server" "${tmp}/etcd"

out="$("${tmp}/etcd" --version 2>&1 | head -1)" || true
[[ "${out}" == "etcd Version: ${etcd_version#v}" ]] || die "the built etcd reports '${out}', the graph has ${etcd_version}"
for b in kube-apiserver kube-controller-manager kube-scheduler; do
	out="$("${tmp}/${b}" --version 2>&1)" || true
	[[ "${out}" == "Kubernetes ${KUBERNETES_VERSION}" ]] || die "the built ${b} reports '${out}', not 'Kubernetes ${KUBERNETES_VERSION}'"
done
out="$("${tmp}/kubectl" version --client 2>&1 | head -1)" || true
[[ "${out}" == "Client Version: ${KUBERNETES_VERSION}" ]] || die "the built kubectl reports '${out}'"
for b in "${BINARIES[@]}"; do mv "${tmp}/${b}" "${BIN}/${b}"; done
printf '%s\n' "${want}" >"${STAMP}"
printf 'built %s (%s, etcd %s) in %ds\n' "${BINARIES[*]}" "${KUBERNETES_VERSION}" "${etcd_version}" "$((SECONDS - start))"
