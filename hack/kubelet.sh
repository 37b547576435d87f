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
STAMP="${ROOT}/_output/.stamps/kubelet"
# shellcheck source=hack/lib/k8s-build.sh
source "${ROOT}/hack/lib/k8s-build.sh"

# The wrapper replaces every staging module with the release of the same
# patch, or the stamp would lie about the binary.
staging="v0.${KUBERNETES_VERSION#v1.}"
if grep -E '=> k8s.io/' "${MODDIR}/go.mod" | grep -vq " ${staging}\$"; then
	die "test/kubelet/go.mod replaces a staging module with a version other than ${staging}"
fi

want="${KUBERNETES_VERSION} $(go env GOVERSION)"
exit_if_current "${want}" kubelet kubelet

build_begin
# Pure Go, as the release builds kubelet for linux/amd64; at normal priority.
(cd "${MODDIR}" && go build -ldflags "$(version_ldflags)" -o "${BIN}/kubelet.new" k8s.io/kubernetes/cmd/kubelet)
out="$("${BIN}/kubelet.new" --version 2>&1)" || true
[[ "${out}" == "Kubernetes ${KUBERNETES_VERSION}" ]] ||
	die "the built kubelet reports '${out}', not 'Kubernetes ${KUBERNETES_VERSION}'"
mv "${BIN}/kubelet.new" "${BIN}/kubelet"
printf '%s\n' "${want}" >"${STAMP}"
printf 'built kubelet %s in %ds\n' "${KUBERNETES_VERSION}" "$(build_seconds)"
