#!/usr/bin/env bash
# critest.sh runs critest (validation mode, serial) against a berthd with its
# embedded containerd, under temporary root/state/socket dirs, with the
# loopback registry serving the project's images through hosts.toml mirrors.
# It then checks the report against test/critest/expected-failures.txt: a
# failure outside that list, or a listed spec that now passes, fails the run.
# berthd serves crun as a second runtime handler; RUNTIME_HANDLER=crun runs
# every spec under it (critest --runtime-handler), checked against
# test/critest/expected-failures-crun.txt: the default list plus what only
# crun fails, each with its reason.
#
# Usage: [RUNTIME_HANDLER=name] hack/critest.sh [extra critest flags]
#   (`make critest [RUNTIME_HANDLER=crun]` runs it; root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
CNI_BIN="${ROOT}/_output/cni/bin"
REPORT_DIR="${ROOT}/_output/critest"
EXPECTED="${ROOT}/test/critest/expected-failures.txt"
RUNTIME_HANDLER="${RUNTIME_HANDLER:-}"
HANDLER_FLAGS=()
if [[ -n "${RUNTIME_HANDLER}" ]]; then
	HANDLER_FLAGS=(--runtime-handler "${RUNTIME_HANDLER}")
	if [[ -f "${ROOT}/test/critest/expected-failures-${RUNTIME_HANDLER}.txt" ]]; then
		EXPECTED="${ROOT}/test/critest/expected-failures-${RUNTIME_HANDLER}.txt"
	fi
fi

log() { printf 'critest.sh: %s\n' "$*"; }

# Short, under /run: containerd's shim socket dir must fit in 38 characters.
WORK="$(mktemp -d /run/bc-XXXXXX)"
# Searchable by all, as berthd's own root and state are: a pod with a user
# namespace runs as an unprivileged node UID that must reach its rootfs.
chmod 0711 "${WORK}"
REGISTRY_PID=""
BERTHD_PID=""

cleanup() {
	local rc=$?
	[[ -n "${BERTHD_PID}" ]] && kill -TERM "${BERTHD_PID}" 2>/dev/null && wait "${BERTHD_PID}" 2>/dev/null || true
	[[ -n "${REGISTRY_PID}" ]] && kill -TERM "${REGISTRY_PID}" 2>/dev/null && wait "${REGISTRY_PID}" 2>/dev/null || true
	# Anything critest left mounted under our dirs (it should leave nothing).
	if grep -q " ${WORK}/" /proc/self/mountinfo; then
		log "mounts left under ${WORK}:"
		grep " ${WORK}/" /proc/self/mountinfo | awk '{print "  " $5}'
		grep " ${WORK}/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
	fi
	if [[ $rc -ne 0 && -f "${WORK}/berthd.log" ]]; then
		cp "${WORK}/berthd.log" "${REPORT_DIR}/berthd.log" 2>/dev/null || true
		cp "${WORK}/root/containerd.log" "${REPORT_DIR}/containerd.log" 2>/dev/null || true
		log "berthd's log: ${REPORT_DIR}/berthd.log"
	fi
	ip link del berthct0 2>/dev/null || true
	rm -rf "${WORK}"
	exit $rc
}
trap cleanup EXIT

for b in berthd critest berth-registry; do
	[[ -x "${BIN}/${b}" ]] || { log "${BIN}/${b} is missing: run make deps build images"; exit 1; }
done
mkdir -p "${REPORT_DIR}" "${WORK}/net.d" "${WORK}/hosts"
rm -f "${REPORT_DIR}/report.json"

"${BIN}/berth-registry" --layout "${ROOT}/_output/images/layout" --addr 127.0.0.1:0 \
	--addr-file "${WORK}/registry.addr" --hosts-dir "${WORK}/hosts" --quiet &
REGISTRY_PID=$!
for _ in $(seq 100); do [[ -s "${WORK}/registry.addr" ]] && break; sleep 0.1; done
[[ -s "${WORK}/registry.addr" ]] || { log "the registry did not start"; exit 1; }
log "registry on $(cat "${WORK}/registry.addr")"

cat > "${WORK}/net.d/10-critest.conflist" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "berth-critest",
  "plugins": [
    {"type": "bridge", "bridge": "berthct0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.98.0.0/16"}]], "dataDir": "${WORK}/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}
CONF

SOCK="${WORK}/berth.sock"
NRI_SOCK="${WORK}/nri.sock"
# critest's NRI specs connect their plugins to NRI_SOCK. One holds its
# Synchronize open for 2 s while containers are created, so plugins get
# longer than NRI's default 2 s to answer; no plugin is started from the
# node's /opt/nri/plugins.
cat > "${WORK}/config.toml" <<CONF
[nri]
enable = true
socket_path = "${NRI_SOCK}"
plugin_path = "${WORK}/nri-plugins"
plugin_config_path = "${WORK}/nri-conf.d"
plugin_request_timeout = "10s"

[runtimes.crun]
binary = "crun"
CONF

# critest writes its Localhost seccomp profiles to a fresh directory under
# TMPDIR, which therefore has to be the profile root.
"${BIN}/berthd" --config "${WORK}/config.toml" --root "${WORK}/root" --state "${WORK}/st" \
	--socket "${SOCK}" --cni-conf-dir "${WORK}/net.d" --cni-bin-dir "${CNI_BIN}" \
	--registry-config-dir "${WORK}/hosts" --seccomp-profile-root "${TMPDIR:-/tmp}" \
	--log-level debug >"${WORK}/berthd.log" 2>&1 &
BERTHD_PID=$!
# Status answers (RuntimeReady false) while start-up and state recovery run;
# every other RPC is Unavailable until they finish, and critest's first check
# is ImageFsInfo: wait for that.
for _ in $(seq 300); do
	"${BIN}/crictl" --runtime-endpoint "unix://${SOCK}" --image-endpoint "unix://${SOCK}" imagefsinfo >/dev/null 2>&1 && break
	kill -0 "${BERTHD_PID}" 2>/dev/null || { log "berthd exited:"; cat "${WORK}/berthd.log"; exit 1; }
	sleep 0.1
done

log "running critest $(${BIN}/critest --version 2>/dev/null | head -1)${RUNTIME_HANDLER:+ under runtime handler ${RUNTIME_HANDLER}}"
set +e
"${BIN}/critest" --runtime-endpoint "unix://${SOCK}" --image-endpoint "unix://${SOCK}" --nri-socket "${NRI_SOCK}" \
	--ginkgo.no-color --ginkgo.succinct --ginkgo.json-report "${REPORT_DIR}/report.json" \
	--ginkgo.junit-report "${REPORT_DIR}/junit.xml" "${HANDLER_FLAGS[@]}" "$@" >"${REPORT_DIR}/critest.log" 2>&1
critest_rc=$?
set -e
log "critest exited ${critest_rc}; its output: ${REPORT_DIR}/critest.log"
[[ -s "${REPORT_DIR}/report.json" ]] || { tail -50 "${REPORT_DIR}/critest.log"; exit 1; }
cd "${ROOT}/test" && go run ./cmd/critest-report --report "${REPORT_DIR}/report.json" --expected "${EXPECTED}"
