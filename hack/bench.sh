#!/usr/bin/env bash
# bench.sh times Berth against containerd's own CRI plugin on the same
# machine in one run: the same containerd binary (CRI enabled), the same
# runc, CNI plugins and images (through the same loopback registry), each
# runtime with its own bridge and subnet. berth-bench alternates between
# them and prints medians, p99s and ratios.
#
# Usage: hack/bench.sh [berth-bench flags]   (`make bench`; root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
CNI_BIN="${ROOT}/_output/cni/bin"
log() { printf 'bench.sh: %s\n' "$*"; }

WORK="$(mktemp -d /run/bb-XXXXXX)"
PIDS=()
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do kill -TERM "${pid}" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "${pid}" 2>/dev/null || true; done
	if grep -q " ${WORK}/" /proc/self/mountinfo; then
		grep " ${WORK}/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
	fi
	ip link del bbberth0 2>/dev/null || true
	ip link del bbctrd0 2>/dev/null || true
	[[ $rc -ne 0 ]] && log "logs kept in ${WORK}" || rm -rf "${WORK}"
	exit $rc
}
trap cleanup EXIT

conflist() { # name bridge subnet ipamdir
	cat <<CONF
{"cniVersion": "1.0.0", "name": "$1", "plugins": [
  {"type": "bridge", "bridge": "$2", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$3"}]], "dataDir": "$4"}},
  {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}]}
CONF
}

mkdir -p "${WORK}/hosts" "${WORK}/berth-net" "${WORK}/ctrd-net"
"${BIN}/berth-registry" --layout "${ROOT}/_output/images/layout" --addr 127.0.0.1:0 \
	--addr-file "${WORK}/registry.addr" --hosts-dir "${WORK}/hosts" --quiet &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "${WORK}/registry.addr" ]] && break; sleep 0.1; done

conflist berth-bench bbberth0 10.94.0.0/22 "${WORK}/berth-ipam" >"${WORK}/berth-net/10.conflist"
conflist ctrd-bench bbctrd0 10.94.4.0/22 "${WORK}/ctrd-ipam" >"${WORK}/ctrd-net/10.conflist"

# containerd with its own CRI, configured like Berth: same runc, plugins,
# pause image (pulled through the same mirror), cgroupfs.
cat >"${WORK}/ctrd.toml" <<CONF
version = 4
root = "${WORK}/ctrd-root"
state = "${WORK}/ctrd-state"
[plugins."io.containerd.server.v1.grpc"]
  address = "${WORK}/ctrd.sock"
[plugins."io.containerd.server.v1.ttrpc"]
  address = "${WORK}/ctrd.sock.ttrpc"
[plugins."io.containerd.shim.v1.manager"]
  socket_dir = "${WORK}/cs"
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "registry.k8s.io/pause:3.10.1"
[plugins."io.containerd.cri.v1.images".registry]
  config_path = "${WORK}/hosts"
[plugins."io.containerd.cri.v1.runtime"]
  # As Berth does: a node without CAP_SYS_RESOURCE refuses negative scores.
  restrict_oom_score_adj = true
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["${CNI_BIN}"]
  conf_dir = "${WORK}/ctrd-net"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "${BIN}/runc"
  SystemdCgroup = false
CONF
PATH="${BIN}:${PATH}" "${BIN}/containerd" --config "${WORK}/ctrd.toml" >"${WORK}/ctrd.log" 2>&1 &
PIDS+=($!)

"${BIN}/berthd" --config "${WORK}/berth.toml" --root "${WORK}/berth-root" --state "${WORK}/bst" \
	--socket "${WORK}/berth.sock" --cni-conf-dir "${WORK}/berth-net" --cni-bin-dir "${CNI_BIN}" \
	--registry-config-dir "${WORK}/hosts" --log-level info --metrics-address 127.0.0.1:0 >"${WORK}/berthd.log" 2>&1 &
PIDS+=($!)

for sock in berth ctrd; do
	for _ in $(seq 300); do
		"${BIN}/crictl" --runtime-endpoint "unix://${WORK}/${sock}.sock" info 2>/dev/null | grep -q '"RuntimeReady"' && break
		sleep 0.1
	done
done
log "berthd and containerd (CRI) are up; running the workload, alternating between them"
cd "${ROOT}" && go run ./test/cmd/berth-bench --endpoints "berth=${WORK}/berth.sock,containerd=${WORK}/ctrd.sock" "$@"

# Where Berth's pod starts and stops spent their time, from its own metrics.
metrics="$(grep -o 'serving metrics and pprof.*address=[0-9.:]*' "${WORK}/berthd.log" | sed 's/.*address=//')"
if [[ -n "${metrics}" ]]; then
	echo
	echo "berthd sandbox stages (mean ms over every pod of the run):"
	curl -s "http://${metrics}/metrics" | awk '
		/^berth_sandbox_stage_duration_seconds_sum/ { match($0, /stage="[^"]+"/); st = substr($0, RSTART+7, RLENGTH-8); sum[st] = $2 }
		/^berth_sandbox_stage_duration_seconds_count/ { match($0, /stage="[^"]+"/); st = substr($0, RSTART+7, RLENGTH-8); cnt[st] = $2 }
		END { for (st in sum) if (cnt[st] > 0) printf "  %-12s %7.1f\n", st, 1000 * sum[st] / cnt[st] }' | sort
fi
