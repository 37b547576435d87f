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
STAMP="${ROOT}/_output/.stamps/e2e-node"
# shellcheck source=hack/lib/k8s-build.sh
source "${ROOT}/hack/lib/k8s-build.sh"

begin_test_build "e2e_node.test, ginkgo and agnhost" e2e_node.test ginkgo agnhost
# The small ones first: a broken graph shows in a minute, not after the long link.
build_ginkgo "${ginkgo_version}"
build_agnhost "${agnhost_version}"
modgo test -c -vet=off -ldflags "$(version_ldflags)" -o "${BIN}/e2e_node.test.new" k8s.io/kubernetes/test/e2e_node
[[ "$(head -c4 "${BIN}/e2e_node.test.new")" == $'\x7fELF' ]] || die "the built e2e_node.test is not an executable"
for b in ginkgo agnhost e2e_node.test; do
	mv "${BIN}/${b}.new" "${BIN}/${b}"
done
printf '%s\n' "${want}" >"${STAMP}"
printf 'built e2e_node.test, ginkgo %s and agnhost %s (%s) in %ds\n' \
	"${ginkgo_version}" "${agnhost_version}" "${KUBERNETES_VERSION}" "$(build_seconds)"
