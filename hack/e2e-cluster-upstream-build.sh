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
STAMP="${ROOT}/_output/.stamps/e2e-cluster-upstream"
# shellcheck source=hack/lib/k8s-build.sh
source "${ROOT}/hack/lib/k8s-build.sh"

begin_test_build "e2e.test, ginkgo and agnhost" e2e.test agnhost ginkgo
# The small ones first: a broken graph shows in a minute, not after the long link.
if [[ ! -x "${BIN}/ginkgo" ]] || ! ginkgo_ok "${BIN}/ginkgo" "${ginkgo_version}"; then
	build_ginkgo "${ginkgo_version}"
	mv "${BIN}/ginkgo.new" "${BIN}/ginkgo"
fi
if [[ ! -x "${BIN}/agnhost" ]] || ! agnhost_ok "${BIN}/agnhost" "${agnhost_version}"; then
	build_agnhost "${agnhost_version}"
	mv "${BIN}/agnhost.new" "${BIN}/agnhost"
fi
modgo test -c -vet=off -ldflags "$(version_ldflags)" -o "${BIN}/e2e.test.new" k8s.io/kubernetes/test/e2e
out="$("${BIN}/e2e.test.new" --version 2>&1 | head -1)" || true
[[ "${out}" == *"${KUBERNETES_VERSION}"* ]] || die "the built e2e.test reports '${out}', not ${KUBERNETES_VERSION}"
mv "${BIN}/e2e.test.new" "${BIN}/e2e.test"
printf '%s\n' "${want}" >"${STAMP}"
printf 'built e2e.test, ginkgo %s and agnhost %s (%s) in %ds\n' "${ginkgo_version}" "${agnhost_version}" "${KUBERNETES_VERSION}" "$(build_seconds)"
