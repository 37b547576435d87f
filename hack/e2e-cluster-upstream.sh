#!/usr/bin/env bash
# e2e-cluster-upstream.sh runs Kubernetes' own conformance specs, e2e.test
# (hack/e2e-cluster-upstream-build.sh) under ginkgo, against a running
# cluster: the groups of test/e2e/upstream/focus.txt, only their
# [Conformance] specs, without [Slow], [Disruptive] and [Flaky] ones. It
# then holds the run against test/e2e/upstream/expected-failures.txt with
# test/cmd/critest-report: it fails on a failure the list does not name and
# on a listed failure that passes.
#
# hack/e2e-cluster.sh calls it with UPSTREAM=true (make e2e-cluster-upstream),
# once its own checks are done, with the cluster's admin kubeconfig; the
# images the specs run come from the loopback registry under their upstream
# names (hack/e2e-node-images.sh builds them).
#
# Environment:
#   PROCS     parallel ginkgo processes (default 4); [Serial] specs run
#             alone at the end whatever it is
#   FOCUS     a ginkgo focus replacing the one from focus.txt
#   EXPECTED  the expectations file (default test/e2e/upstream/expected-failures.txt)
#
# Output: the report's totals and verdict on stdout; ginkgo's log, its
# JSON and JUnit reports and a per-group table in REPORT_DIR.
#
# Usage: hack/e2e-cluster-upstream.sh KUBECONFIG REPORT_DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
KCONFIG="${1:?usage: $0 KUBECONFIG REPORT_DIR}"
REPORTS="${2:?usage: $0 KUBECONFIG REPORT_DIR}"
PROCS="${PROCS:-4}"
EXPECTED="${EXPECTED:-${ROOT}/test/e2e/upstream/expected-failures.txt}"

die() {
	printf 'e2e-cluster-upstream.sh: %s\n' "$*" >&2
	exit 1
}
for b in e2e.test ginkgo; do
	[[ -x "${BIN}/${b}" ]] || die "${BIN}/${b} is missing: run hack/e2e-cluster-upstream-build.sh"
done

# focus.txt: "group | why" a line; a group is the start of the full text.
focus_regexp() {
	local groups=() g
	while IFS= read -r g; do
		# Regexp-quote the group: its brackets are literal.
		groups+=("$(sed -E 's/[][\\.*+?(){}|^$]/\\&/g' <<<"${g}")")
	done < <(sed -E -e '/^[[:space:]]*(#|$)/d' -e 's/ \| .*$//' "${ROOT}/test/e2e/upstream/focus.txt")
	((${#groups[@]})) || die "test/e2e/upstream/focus.txt names no group"
	local IFS='|'
	printf '(%s) .*\\[Conformance\\]' "${groups[*]}"
}
FOCUS="${FOCUS:-$(focus_regexp)}"
SKIP='\[Slow\]|\[Disruptive\]|\[Flaky\]'

rm -rf "${REPORTS}"
mkdir -p "${REPORTS}/tmp"
start=${SECONDS}
set +e
# Its own process group: ginkgo and its e2e.test processes stop together.
(
	cd "${REPORTS}" &&
		exec setsid env TMPDIR="${REPORTS}/tmp" "${BIN}/ginkgo" --procs="${PROCS}" --timeout=3h \
			--focus="${FOCUS}" --skip="${SKIP}" --no-color \
			--output-dir="${REPORTS}" --json-report=report.json --junit-report=junit.xml \
			"${BIN}/e2e.test" -- \
			--kubeconfig="${KCONFIG}" --kubectl-path="${BIN}/kubectl" --provider=skeleton --report-dir="${REPORTS}" \
			--e2e-verify-service-account=true --dump-logs-on-failure=true --v=2
) >"${REPORTS}/ginkgo.log" 2>&1
rc=$?
set -e
rm -rf "${REPORTS}/tmp"
printf 'e2e.test: ginkgo --procs=%s exited %d after %d s\n' "${PROCS}" "${rc}" "$((SECONDS - start))"
[[ -s "${REPORTS}/report.json" ]] || die "no ginkgo report in ${REPORTS}: $(tail -20 "${REPORTS}/ginkgo.log")"
(cd "${ROOT}/test" && go run ./cmd/critest-report --name e2e.test --selected-only \
	--groups "${REPORTS}/groups.md" --report "${REPORTS}/report.json" --expected "${EXPECTED}")
