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
STAMP="${ROOT}/_output/.stamps/e2e-cluster"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
# shellcheck source=hack/lib/k8s-build.sh
source "${ROOT}/hack/lib/k8s-build.sh"

etcd_version="$(modversion go.etcd.io/etcd/server/v3)"
want="$(graph_stamp etcd "${etcd_version}")"
exit_if_current "${want}" "${BINARIES[*]}" "${BINARIES[@]}"

build_begin
tmp="$(mktemp -d "${OUT}/e2e-cluster-build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
# etcd's main package is go.etcd.io/etcd/server/v3: go build names it "server".
modgo build -ldflags "$(version_ldflags)" -o "${tmp}/" \
	go.etcd.io/etcd/server/v3 \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kubectl
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
printf 'built %s (%s, etcd %s) in %ds\n' "${BINARIES[*]}" "${KUBERNETES_VERSION}" "${etcd_version}" "$(build_seconds)"
