#!/usr/bin/env bash
# bench-kubelet.sh times what a user of a node waits for, driven by a real
# kubelet: from the moment KUBELET_PODS (10) static pod manifests land in
# kubelet's staticPodPath to every one of those pods Ready, each pod one
# busybox container with an exec readiness probe and no shared PID
# namespace; and from their removal to every sandbox stopped. Berth against
# containerd's own CRI plugin, in one run.
#
# hack/bench.sh starts the two runtimes side by side and calls this script
# with BENCH_WORK (its temporary dir) and BENCH_SOCKETS
# (berth=SOCKET,containerd=SOCKET). Run alone, this script runs bench.sh
# with only this phase (`make bench-kubelet`).
#
# One kubelet per runtime, both running throughout (each with its own root
# dir, ports, node name and cgroup root, /berth-bench-kubelet-NAME), so that
# an idle kubelet's housekeeping falls on both runtimes' rounds alike. Each
# runtime gets one untimed round first (image pulls, the first CNI ADD, the
# kubelet's first pods), reported apart; then KUBELET_ROUNDS (8) timed rounds
# each, alternating which runtime goes first. Between rounds the previous
# pods are gone: kubelet has stopped their sandboxes, which are then removed
# through CRI (kubelet's own garbage collection would take them within its
# one-minute period), and kubelet has removed their pod cgroups.
# berth-bench --samples prints the medians, p99s and ratios.
#
# kubelet runs with the cgroupfs driver, failCgroupV1: false and
# --system-cgroups= empty: it must never move processes it did not start
# (checked: /proc/1/cgroup is the same after the run).
#
# Environment: KUBELET_ROUNDS, KUBELET_PODS; MARKDOWN=1 prints markdown;
# BERTH_METRICS (berthd's metrics address) adds berthd's own CRI timings.
# The kubelets' logs, berthd's and the samples are left in
# _output/bench-kubelet.
#
# Usage: hack/bench-kubelet.sh   (`make bench-kubelet`; root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${BENCH_WORK:-}" ]]; then
	exec env BERTH_BENCH=0 CRITEST_BENCH=0 "${ROOT}/hack/bench.sh" "$@"
fi
BIN="${ROOT}/_output/bin"
ROUNDS="${KUBELET_ROUNDS:-8}"
PODS="${KUBELET_PODS:-10}"
IMAGE=registry.k8s.io/e2e-test-images/busybox:1.29-2
WORK="${BENCH_WORK}/kubelet"
SAMPLES="${WORK}/samples.tsv"
LOGS="${ROOT}/_output/bench-kubelet"

LOG_PREFIX=bench-kubelet
# shellcheck source=hack/lib/kubelet-host.sh
source "${ROOT}/hack/lib/kubelet-host.sh"

[[ "$(id -u)" == 0 ]] || die "needs root"
for c in curl jq python3 iptables-save; do command -v "${c}" >/dev/null || die "${c} is missing: run make deps"; done
"${ROOT}/hack/kubelet.sh" >/dev/null
# What times a round's two sides (test/cmd/kubelet-round): built once, so
# that no compiler or shell loop runs beside a timed round.
ROUNDER="${WORK}/kubelet-round"
mkdir -p "${WORK}"
(cd "${ROOT}/test" && CGO_ENABLED=0 go build -trimpath -o "${ROUNDER}" ./cmd/kubelet-round) || die "cannot build kubelet-round"

# Per runtime, by name: its CRI socket, the kubelet's dir, ports, cgroup
# root and PID.
NAMES=()
declare -A SOCK=() KDIR=() RO=() CGROOT=() KPID=() STARTED=()
IFS=, read -r -a specs <<<"${BENCH_SOCKETS:?BENCH_SOCKETS=name=socket,name=socket}"
for spec in "${specs[@]}"; do
	NAMES+=("${spec%%=*}")
	SOCK[${spec%%=*}]="${spec#*=}"
done
((${#NAMES[@]} == 2)) || die "BENCH_SOCKETS names ${#NAMES[@]} runtimes, want 2"

cri() { "${BIN}/crictl" --config "${WORK}/crictl-$1.yaml" "${@:2}"; }
# The pods' sandboxes, by the label every bench pod carries.
sandboxes() { cri "$1" pods --label berth-bench=kubelet -q "${@:2}" 2>/dev/null; }
pod_cgroups() { find "/sys/fs/cgroup/memory${CGROOT[$1]}" -mindepth 2 -type d -name 'pod*' 2>/dev/null; }
none_ready() { [[ -z "$(sandboxes "$1" --state ready)" ]]; }
gone() { [[ -z "$(sandboxes "$1")" && -z "$(pod_cgroups "$1")" ]]; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PID1_CGROUP="$(cat /proc/1/cgroup)"
host_lock
host_record /var/lib/kubelet /var/log/containers /var/log/pods

cleanup() {
	local rc=$? name
	set +e
	for name in "${NAMES[@]}"; do rm -f "${KDIR[${name}]:-/nonexistent}/manifests/"*.yaml 2>/dev/null; done
	for name in "${NAMES[@]}"; do
		[[ -n "${KPID[${name}]:-}" ]] && kill -0 "${KPID[${name}]}" 2>/dev/null || continue
		wait_for 60 none_ready "${name}" ||
			log "cleanup: ${name}'s sandboxes still ready 60 s after the manifests went"
		wait_for 30 test -z "$(pod_cgroups "${name}")" || log "cleanup: ${name}'s pod cgroups still there after 30 s"
	done
	for name in "${NAMES[@]}"; do
		stop_pid "${KPID[${name}]:-}"
		local ids id
		ids="$(sandboxes "${name}")"
		for id in ${ids}; do cri "${name}" stopp "${id}" >/dev/null 2>&1; done
		for id in ${ids}; do cri "${name}" rmp -f "${id}" >/dev/null 2>&1; done
	done
	host_unmount "${WORK}"
	host_restore_sysctls
	host_remove_kube_chains
	for name in "${NAMES[@]}"; do
		[[ -n "${CGROOT[${name}]:-}" ]] || continue
		for h in /sys/fs/cgroup/*/; do rmdir_tree "${h%/}${CGROOT[${name}]}"; done
	done
	[[ -d /var/log/containers ]] && find /var/log/containers -maxdepth 1 -type l -lname "${WORK}/*" -delete
	for p in /var/lib/kubelet /var/log/containers /var/log/pods; do
		[[ -n "${EXISTED[${p}]:-}" ]] && continue
		if [[ "${p}" != /var/lib/kubelet ]]; then
			rmdir "${p}" 2>/dev/null
		elif ss -xlH 2>/dev/null | grep -q ' /var/lib/kubelet/'; then
			# kubelet puts its device plugin socket there whatever its root
			# dir: another kubelet came meanwhile, and it is its.
			log "cleanup: /var/lib/kubelet left in place: another kubelet listens there"
		else
			rm -rf "${p}"
		fi
	done
	if [[ "$(cat /proc/1/cgroup)" != "${PID1_CGROUP}" ]]; then
		log "FAIL: /proc/1/cgroup changed during the run: $(tr '\n' ' ' </proc/1/cgroup)"
		rc=1
	fi
	# The logs, for a look at where a round's time went (bench.sh removes
	# its work dir).
	rm -rf "${LOGS}" && mkdir -p "${LOGS}"
	for name in "${NAMES[@]}"; do cp "${WORK}/kubelet-${name}.log" "${LOGS}/" 2>/dev/null; done
	cp "${SAMPLES}" "${BENCH_WORK}/berthd.log" "${LOGS}/" 2>/dev/null
	((rc == 0)) || log "kubelet and berthd logs kept in ${LOGS#"${ROOT}"/}"
	exit "${rc}"
}
trap cleanup EXIT

# ---- the kubelets ------------------------------------------------------------
start_kubelet() {
	local name=$1 dir="${WORK}/${1}" h
	KDIR[${name}]="${dir}"
	mkdir -p "${dir}/manifests" "${dir}/staging" "${dir}/pods" "${dir}/root"
	local cg="/berth-bench-kubelet-${name}"
	for h in /sys/fs/cgroup/*/; do
		[[ -e "${h}${cg#/}" ]] && die "${h}${cg#/} exists: another bench-kubelet runs here?"
	done
	# kubelet wants its cgroup root to exist, in every hierarchy.
	CGROOT[${name}]="${cg}"
	for h in /sys/fs/cgroup/*/; do mkdir "${h}${cg#/}"; done
	local cs=/sys/fs/cgroup/cpuset
	if [[ -d "${cs}${CGROOT[${name}]}" ]]; then
		cat "${cs}/cpuset.cpus" >"${cs}${CGROOT[${name}]}/cpuset.cpus"
		cat "${cs}/cpuset.mems" >"${cs}${CGROOT[${name}]}/cpuset.mems"
	fi
	local port ro healthz
	port="$(free_port)" ro="$(free_port)" healthz="$(free_port)"
	RO[${name}]="http://127.0.0.1:${ro}"
	cat >"${dir}/kubelet.yaml" <<CONF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${SOCK[${name}]}
imageServiceEndpoint: unix://${SOCK[${name}]}
staticPodPath: ${dir}/manifests
podLogsDir: ${dir}/pods
volumePluginDir: ${dir}/volume-plugins
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: ${CGROOT[${name}]}
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
oomScoreAdj: 0
address: 127.0.0.1
port: ${port}
readOnlyPort: ${ro}
healthzBindAddress: 127.0.0.1
healthzPort: ${healthz}
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
CONF
	"${BIN}/kubelet" --config "${dir}/kubelet.yaml" --root-dir "${dir}/root" --cert-dir "${dir}/pki" \
		--hostname-override "bench-${name}" --system-cgroups= --v=2 >"${WORK}/kubelet-${name}.log" 2>&1 &
	KPID[${name}]=$!
	STARTED[${name}]=${SECONDS}
	kubelet_healthy() {
		kill -0 "${KPID[${name}]}" 2>/dev/null || die "${name}'s kubelet exited: $(tail -20 "${WORK}/kubelet-${name}.log")"
		[[ "$(curl -fsS "http://127.0.0.1:${healthz}/healthz" 2>/dev/null)" == ok ]]
	}
	wait_for 90 kubelet_healthy || die "${name}'s kubelet not healthy within 90 s: $(tail -20 "${WORK}/kubelet-${name}.log")"
}

# ---- one round ----------------------------------------------------------------
# manifest ROUND I: pod I of a round. A pod of a round of its own (name and
# annotation) gets a UID of its own, so kubelet never sees one again.
manifest() {
	cat <<POD
apiVersion: v1
kind: Pod
metadata:
  name: kb$1-$2
  namespace: default
  labels: {berth-bench: kubelet}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: app
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    # Exits on SIGTERM at once, so the stop is the runtime's, not the grace period's.
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 10
    resources:
      requests: {cpu: 10m, memory: 16Mi}
POD
}

# ready_pods NAME: how many pods kubelet's /pods has with the Ready
# condition True (kubelet serves the status manager's status of static
# pods there).
ready_pods() {
	curl -fsS --max-time 5 "${RO[$1]}/pods" 2>/dev/null |
		grep -oE '"type":"Ready",("observedGeneration":[0-9]+,)?"status":"True"' | wc -l
}

# round NAME ROUND: sets READY_NS and STOP_NS.
round() {
	local name=$1 r=$2 dir="${KDIR[$1]}" i
	rm -f "${dir}/staging/"*.yaml
	for i in $(seq "${PODS}"); do manifest "${r}" "${i}" >"${dir}/staging/kb${r}-${i}.yaml"; done
	# kubelet-round renames the manifests into staticPodPath (within one
	# file system: kubelet sees each whole) and times the pods to Ready,
	# then removes them and times the sandboxes to stopped, each from one
	# process that samples every 0.1 s over one connection.
	if ! READY_NS="$("${ROUNDER}" ready --pods "${RO[${name}]}/pods" --count "${PODS}" \
		--from "${dir}/staging" --to "${dir}/manifests" --timeout 300s)"; then
		curl -fsS "${RO[${name}]}/pods" | jq -r '.items[] | "  \(.metadata.name) \(.status.phase) " +
			([.status.conditions[]? | "\(.type)=\(.status)"] | join(" "))' || true
		die "${name}: $(ready_pods "${name}") of ${PODS} pods Ready after 300 s (round ${r})"
	fi
	STOP_NS="$("${ROUNDER}" stopped --endpoint "${SOCK[${name}]}" --label berth-bench=kubelet \
		--dir "${dir}/manifests" --timeout 120s)" ||
		die "${name}: sandboxes still ready 120 s after the manifests went (round ${r})"
	# kubelet's garbage collection would remove the stopped sandboxes
	# within a minute; the next round wants them gone now.
	local id
	# (Or kubelet does it meanwhile: a sandbox already gone is no error.)
	for id in $(sandboxes "${name}"); do cri "${name}" rmp -f "${id}" >/dev/null 2>&1 || true; done
	wait_for 60 gone "${name}" || die "${name}: sandboxes or pod cgroups left 60 s after the stop (round ${r}): $(sandboxes "${name}") $(pod_cgroups "${name}")"
}

# kubelet_ops NAME: kubelet's CRI calls, "operation count seconds" a line.
kubelet_ops() {
	curl -fsS "${RO[$1]}/metrics" 2>/dev/null | awk '
		/^kubelet_runtime_operations_duration_seconds_(sum|count)\{/ {
			match($0, /operation_type="[^"]+"/); op = substr($0, RSTART+16, RLENGTH-17)
			if ($0 ~ /_sum\{/) sum[op] = $2; else cnt[op] = $2 }
		END { for (op in cnt) print op, cnt[op], sum[op] }' | sort
}
# ops_delta BEFORE AFTER OPS...: the mean of each op between two kubelet_ops.
ops_delta() {
	local before=$1 after=$2
	shift 2
	awk -v ops="$*" 'NR == FNR { c0[$1] = $2; s0[$1] = $3; next } { c1[$1] = $2; s1[$1] = $3 }
		END { n = split(ops, o, " "); for (i = 1; i <= n; i++) { c = c1[o[i]] - c0[o[i]]
			if (c > 0) printf " %s %.0f ms (%d)", o[i], 1000 * (s1[o[i]] - s0[o[i]]) / c, c } }' \
		<(printf '%s\n' "${before}") <(printf '%s\n' "${after}")
}
OPS="run_podsandbox create_container start_container exec_sync"
# berthd_ops: berthd's own time per CRI method, the same way, and its
# sandbox stages ("stage:NAME"); nothing without BERTH_METRICS.
berthd_ops() {
	[[ -n "${BERTH_METRICS:-}" ]] || return 0
	curl -fsS "http://${BERTH_METRICS}/metrics" 2>/dev/null | awk '
		/^berth_cri_request_duration_seconds_(sum|count)\{/ {
			match($0, /method="[^"]+"/); op = substr($0, RSTART+8, RLENGTH-9)
			if ($0 ~ /_sum\{/) sum[op] += $2; else cnt[op] += $2 }
		/^berth_sandbox_stage_duration_seconds_(sum|count)\{/ {
			match($0, /stage="[^"]+"/); op = "stage:" substr($0, RSTART+7, RLENGTH-8)
			if ($0 ~ /_sum\{/) sum[op] += $2; else cnt[op] += $2 }
		END { for (op in cnt) print op, cnt[op], sum[op] }' | sort
}
BERTHD_OPS="RunPodSandbox CreateContainer StartContainer ExecSync stage:netns-files stage:cni-add stage:pause-start stage:adopt stage:run"

mkdir -p "${WORK}"
for name in "${NAMES[@]}"; do
	printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "${SOCK[${name}]}" "${SOCK[${name}]}" >"${WORK}/crictl-${name}.yaml"
done
for name in "${NAMES[@]}"; do start_kubelet "${name}"; done
log "kubelet $("${BIN}/kubelet" --version | awk '{print $2}') healthy against ${NAMES[*]}; ${PODS} static pods a round, 1 untimed + ${ROUNDS} timed rounds each, alternating"

# The untimed first round: a fresh kubelet's first pods, against runtimes
# that may have run nothing yet.
declare -A OPS_AFTER_FIRST=() FIRST=()
for name in "${NAMES[@]}"; do
	zero="$(kubelet_ops "${name}")"
	[[ "${name}" == berth ]] && bzero="$(berthd_ops)"
	round "${name}" 0
	OPS_AFTER_FIRST[${name}]="$(kubelet_ops "${name}")"
	FIRST[${name}]="$(awk -v n="${READY_NS}" 'BEGIN { printf "%.2f", n / 1e9 }') s to Ready; kubelet's CRI calls:$(ops_delta "${zero}" "${OPS_AFTER_FIRST[${name}]}" ${OPS})"
	if [[ "${name}" == berth && -n "${BERTH_METRICS:-}" ]]; then
		BERTHD_AFTER_FIRST="$(berthd_ops)"
		FIRST[${name}]+="; berthd's own:$(ops_delta "${bzero}" "${BERTHD_AFTER_FIRST}" ${BERTHD_OPS})"
	fi
	log "first round, ${name}: ${FIRST[${name}]}"
done
# A probe worker started within its period of kubelet's start sleeps a
# random part of it first (kubelet's prober): none may in a timed round.
for name in "${NAMES[@]}"; do
	while ((SECONDS - STARTED[${name}] <= 11)); do sleep 1; done
done

: >"${SAMPLES}"
up="$(printf '%d static pods: manifests to all Ready' "${PODS}")"
down="$(printf '%d static pods: manifests removed to all stopped' "${PODS}")"
for r in $(seq "${ROUNDS}"); do
	order=("${NAMES[@]}")
	((r % 2 == 0)) && order=("${NAMES[1]}" "${NAMES[0]}")
	for name in "${order[@]}"; do
		round "${name}" "${r}"
		printf '%s\t%s\t%s\n' "${name}" "${up}" "${READY_NS}" "${name}" "${down}" "${STOP_NS}" >>"${SAMPLES}"
		log "round ${r}, ${name}: $(awk -v a="${READY_NS}" -v b="${STOP_NS}" 'BEGIN { printf "%.2f s to Ready, %.2f s to stopped", a / 1e9, b / 1e9 }')"
	done
done

echo
echo "kubelet: ${PODS} static pods (busybox, exec readiness probe) from manifests to Ready, ${ROUNDS} rounds each, alternating; load $(cut -d' ' -f1-3 /proc/loadavg):"
md=()
[[ "${MARKDOWN:-0}" == 1 ]] && md=(--markdown)
(go -C "${ROOT}/test" run ./cmd/berth-bench --samples "${SAMPLES}" "${md[@]}")
echo
echo "The untimed first round of each, then kubelet's CRI calls over the timed rounds (mean, count):"
for name in "${NAMES[@]}"; do
	echo "  ${name}, first round: ${FIRST[${name}]}"
	echo "  ${name}, timed rounds: kubelet's CRI calls:$(ops_delta "${OPS_AFTER_FIRST[${name}]}" "$(kubelet_ops "${name}")" ${OPS})"
	if [[ "${name}" == berth && -n "${BERTH_METRICS:-}" ]]; then
		echo "    berthd's own:$(ops_delta "${BERTHD_AFTER_FIRST}" "$(berthd_ops)" ${BERTHD_OPS})"
	fi
done
