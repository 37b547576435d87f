#!/usr/bin/env bash
# bench.sh times Berth against containerd's own CRI plugin on the same
# machine in one run: the same containerd binary (CRI enabled), the same
# runc, CNI plugins and images (through the same loopback registry), each
# runtime with its own bridge and subnet. berth-bench alternates between
# them and prints medians, p99s and ratios.
#
# berth-bench also times the List calls against 500 running containers and
# reads each runtime's memory at 100 pods (it gets the PIDs of berthd, the
# containerd berthd supervises and the CRI containerd from here, and the
# directory each one's shims put their sockets in: berthd's <state>/s, the
# CRI containerd's socket_dir). Then critest's own benchmarks run against
# each runtime, with hack/critest-benchmark.yaml, and their results are
# summarised the same way.
# Between the two, hack/bench-kubelet.sh times a real kubelet's static pods
# from manifests to Ready against each.
#
# Usage: hack/bench.sh [berth-bench flags]   (`make bench`; root)
#   BERTHD runs another berthd binary than _output/bin/berthd.
#   Both runtimes also serve crun (Debian's): --runtime-handler crun runs
#   every pod under it.
#   BERTH_BENCH=0 skips berth-bench's phases, KUBELET_BENCH=0 the kubelet's
#   (KUBELET_ROUNDS, KUBELET_PODS: hack/bench-kubelet.sh),
#   CRITEST_BENCH=0 the critest benchmarks; CRITEST_PARAMS=file
#   replaces hack/critest-benchmark.yaml; CRITEST_BLOCKS=n runs critest 2n
#   times against each runtime (3 by default: 6 runs each).
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

# The networks and containerd's config, shared with the VM's bench.
# shellcheck source=hack/lib/bench-config.sh
. "${ROOT}/hack/lib/bench-config.sh"

mkdir -p "${WORK}/hosts" "${WORK}/berth-net" "${WORK}/ctrd-net"
"${BIN}/berth-registry" --layout "${ROOT}/_output/images/layout" --addr 127.0.0.1:0 \
	--addr-file "${WORK}/registry.addr" --hosts-dir "${WORK}/hosts" --quiet &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "${WORK}/registry.addr" ]] && break; sleep 0.1; done

bench_conflist berth-bench bbberth0 10.94.0.0/22 "${WORK}/berth-ipam" >"${WORK}/berth-net/10.conflist"
bench_conflist ctrd-bench bbctrd0 10.94.4.0/22 "${WORK}/ctrd-ipam" >"${WORK}/ctrd-net/10.conflist"

# containerd with its own CRI, configured like Berth: same runc, CNI
# plugins, pause image (pulled through the same mirror), cgroupfs; crun,
# for berth-bench --runtime-handler crun, configured alike in both.
bench_ctrd_config "${WORK}" "${CNI_BIN}" "${BIN}/runc" crun false >"${WORK}/ctrd.toml"
cat >"${WORK}/berth.toml" <<CONF
[runtimes.crun]
  binary = "crun"
CONF
PATH="${BIN}:${PATH}" "${BIN}/containerd" --config "${WORK}/ctrd.toml" >"${WORK}/ctrd.log" 2>&1 &
CTRD_PID=$!
PIDS+=($!)

BERTHD_PID=""
"${BERTHD:-${BIN}/berthd}" --config "${WORK}/berth.toml" --root "${WORK}/berth-root" --state "${WORK}/bst" \
	--socket "${WORK}/berth.sock" --cni-conf-dir "${WORK}/berth-net" --cni-bin-dir "${CNI_BIN}" \
	--registry-config-dir "${WORK}/hosts" --log-level info --metrics-address 127.0.0.1:0 >"${WORK}/berthd.log" 2>&1 &
BERTHD_PID=$!
PIDS+=($!)

for sock in berth ctrd; do
	for _ in $(seq 600); do
		bench_serving "${BIN}" "${WORK}" "${sock}" && break
		sleep 0.1
	done
	bench_serving "${BIN}" "${WORK}" "${sock}" || { log "${sock} did not serve within 60 s"; exit 1; }
done
# The containerd berthd supervises, for the memory phase: berthd logs its PID
# each time it starts it.
BERTH_CTRD_PID="$(grep 'containerd is serving' "${WORK}/berthd.log" | tail -1 | grep -o ' pid=[0-9]*' | cut -d= -f2)"
[[ -n "${BERTH_CTRD_PID}" ]] || { log "no containerd PID in berthd's log"; exit 1; }
log "berthd (pid ${BERTHD_PID}, its containerd ${BERTH_CTRD_PID}) and containerd with CRI (pid ${CTRD_PID}) are up; running the workload, alternating between them"
cd "${ROOT}"
# berthd logs "serving metrics" with the address it bound.
metrics="$(grep -o 'serving metrics.*address=[0-9.:]*' "${WORK}/berthd.log" | sed 's/.*address=//' | tail -1 || true)"
if [[ "${BERTH_BENCH:-1}" != 0 ]]; then
	go -C test run ./cmd/berth-bench --endpoints "berth=${WORK}/berth.sock,containerd=${WORK}/ctrd.sock" \
		--pids "berth=${BERTHD_PID}+${BERTH_CTRD_PID},containerd=${CTRD_PID}" \
		--shim-sockets "berth=${WORK}/bst/s,containerd=${WORK}/cs" --log-root "${WORK}/pod-logs" "$@"

	# Where Berth's pod starts and stops spent their time, from its own metrics.
	if [[ -n "${metrics}" ]]; then
		echo
		echo "berthd sandbox stages (mean ms over every pod of the run):"
		curl -s "http://${metrics}/metrics" | awk '
			/^berth_sandbox_stage_duration_seconds_sum/ { match($0, /stage="[^"]+"/); st = substr($0, RSTART+7, RLENGTH-8); sum[st] = $2 }
			/^berth_sandbox_stage_duration_seconds_count/ { match($0, /stage="[^"]+"/); st = substr($0, RSTART+7, RLENGTH-8); cnt[st] = $2 }
			END { for (st in sum) if (cnt[st] > 0) printf "  %-12s %7.1f\n", st, 1000 * sum[st] / cnt[st] }' | sort
	fi
fi

# A real kubelet against each: static pods to Ready (hack/bench-kubelet.sh).
if [[ "${KUBELET_BENCH:-1}" != 0 ]]; then
	echo
	BENCH_WORK="${WORK}" BENCH_SOCKETS="berth=${WORK}/berth.sock,containerd=${WORK}/ctrd.sock" BERTH_METRICS="${metrics}" \
		MARKDOWN="$(printf '%s\n' "$@" | grep -qx -- '--\?markdown' && echo 1 || echo 0)" "${ROOT}/hack/bench-kubelet.sh"
fi

[[ "${CRITEST_BENCH:-1}" == 0 ]] && exit 0
# critest's own benchmarks. A run is a whole ginkgo suite, so they cannot
# alternate call by call. They alternate run by run instead, in blocks of
# berth, containerd, containerd, berth (CRITEST_BLOCKS of them, 3 by
# default), so that whatever drifts over the runs falls on both alike, and
# each runtime's samples are merged. What drifts most on a virtual machine
# is the CPU time the hypervisor steals: each run's share is recorded
# beside its results (cpu-steal) and printed with them. Every run uses one
# ginkgo seed, so its benchmarks come in the same order.
PARAMS="$(realpath "${CRITEST_PARAMS:-${ROOT}/hack/critest-benchmark.yaml}")"
cpu_ticks() { awk '/^cpu /{ print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
order=()
for _ in $(seq "${CRITEST_BLOCKS:-3}"); do order+=(berth ctrd ctrd berth); done
runs=(); berth_dirs=(); ctrd_dirs=()
rm -rf "${ROOT}/_output/bench" && mkdir -p "${ROOT}/_output/bench"
B="${ROOT}/_output/bench"
for rt in "${order[@]}"; do
	run=$((${#runs[@]} + 1))
	out="critest-${rt}-${run}"
	runs+=("${out}")
	mkdir -p "${WORK}/${out}"
	log "critest -benchmark against ${rt} (run ${run} of ${#order[@]})"
	read -r steal0 total0 < <(cpu_ticks)
	if ! "${BIN}/critest" --runtime-endpoint "unix://${WORK}/${rt}.sock" --image-endpoint "unix://${WORK}/${rt}.sock" \
		-benchmark -benchmarking-params-file "${PARAMS}" \
		-benchmarking-output-dir "${WORK}/${out}" --ginkgo.seed 1 --ginkgo.no-color >"${WORK}/${out}.log" 2>&1; then
		tail -40 "${WORK}/${out}.log"
		log "critest -benchmark failed against ${rt}"
		exit 1
	fi
	read -r steal1 total1 < <(cpu_ticks)
	awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.1f\n", t ? 100 * s / t : 0 }' >"${WORK}/${out}/cpu-steal"
	# Kept for a look at the raw data (WORK goes when the run succeeds);
	# the log has the one benchmark critest writes no JSON for.
	cp -r "${WORK}/${out}" "${WORK}/${out}.log" "${B}/"
	if [[ "${rt}" == berth ]]; then berth_dirs+=("${B}/${out}"); else ctrd_dirs+=("${B}/${out}"); fi
done
plus() { local IFS=+; echo "$*"; }
echo
echo "critest -benchmark (${PARAMS#"${ROOT}"/}; ${#berth_dirs[@]} runs each, alternating; raw results in _output/bench):"
go -C "${ROOT}/test" run ./cmd/berth-bench --critest-results "berth=$(plus "${berth_dirs[@]}"),containerd=$(plus "${ctrd_dirs[@]}")" \
	$(printf '%s\n' "$@" | grep -x -- '--\?markdown' || true)
