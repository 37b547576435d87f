#!/usr/bin/env bash
# e2e-kubelet.sh runs a real kubelet (KUBERNETES_VERSION, built by
# hack/kubelet.sh) standalone against a fresh berthd, and checks what a user
# of the node would see: the static pods in test/e2e/kubelet are Running and
# Ready, the hostPort answers on 127.0.0.1, a crashing container is restarted
# with a growing count, logs are readable through kubelet, /stats/summary has
# per-pod CPU and memory, and removing the manifests leaves no sandbox and no
# network namespace behind.
#
# berthd, its containerd, the loopback registry, kubelet's root, cert and pod
# log dirs all live under one temporary dir. kubelet also touches the host
# outside it; the script records and undoes that: the sysctls it rewrites,
# the mounts under its root dir, the /kubepods cgroups, /var/lib/kubelet,
# /var/log/containers and any iptables chain it added.
#
# Environment: STATS_FROM_CRI=false leaves the PodAndContainerStatsFromCRI
# gate off (CPU and memory then come from kubelet's cAdvisor, not berthd);
# KEEP_LOGS_DIR (default _output/e2e-kubelet) receives the logs; BERTHD runs
# another berthd binary than _output/bin/berthd.
#
# Usage: hack/e2e-kubelet.sh   (`make e2e-kubelet` runs it; root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
CNI_BIN="${ROOT}/_output/cni/bin"
MANIFESTS="${ROOT}/test/e2e/kubelet"
LOGS="${KEEP_LOGS_DIR:-${ROOT}/_output/e2e-kubelet}"
STATS_FROM_CRI="${STATS_FROM_CRI:-true}"
[[ "${STATS_FROM_CRI}" == true || "${STATS_FROM_CRI}" == false ]] || { echo "STATS_FROM_CRI must be true or false" >&2; exit 1; }
NODE=berth-e2e
BRIDGE=berthk0
HOST_PORT=30080
RO="http://127.0.0.1:10255"
LOG_PREFIX=e2e-kubelet
# shellcheck source=hack/lib/kubelet-host.sh
source "${ROOT}/hack/lib/kubelet-host.sh"

[[ "$(id -u)" == 0 ]] || die "needs root"
BERTHD="${BERTHD:-${BIN}/berthd}"
[[ -x "${BERTHD}" ]] || die "${BERTHD} is missing: run make build"
for b in berth-registry crictl; do
	[[ -x "${BIN}/${b}" ]] || die "${BIN}/${b} is missing: run make deps build images"
done
for c in jq curl iptables-save; do command -v "${c}" >/dev/null || die "${c} is missing: run make deps"; done
"${ROOT}/hack/kubelet.sh"

# Short and under /run: containerd's shim socket dir must fit in 38 characters.
WORK="$(mktemp -d /run/bk-XXXXXX)"
SOCK="${WORK}/berth.sock"
STATE="${WORK}/st"
KROOT="${WORK}/kubelet"
PODLOGS="${WORK}/pods"
STATIC="${WORK}/manifests"
REGISTRY_PID=""
BERTHD_PID=""
KUBELET_PID=""

# ---- the host state kubelet changes, recorded before it runs -------------
host_lock
host_record /var/lib/kubelet /var/log/containers /var/log/pods
CGROUP_ROOTS=()
for h in /sys/fs/cgroup/*/; do
	h="${h%/}"
	[[ -d "${h}/kubepods" ]] && die "${h}/kubepods exists already: another kubelet runs here?"
	CGROUP_ROOTS+=("${h}")
done

# ---- results --------------------------------------------------------------
RESULTS=()
FAILED=0
pass() { RESULTS+=("PASS  $*"); log "PASS $*"; }
fail() {
	RESULTS+=("FAIL  $*")
	FAILED=1
	log "FAIL $*"
}
# check NAME COMMAND...: PASS when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "${name}"; else fail "${name}"; fi
}
cleanup() {
	local rc=$?
	set +e
	if [[ -n "${KUBELET_PID}" ]] && kill -0 "${KUBELET_PID}" 2>/dev/null; then
		# Stopping kubelet leaves pods running: take them down first.
		rm -f "${STATIC}"/*.yaml
		wait_for 30 no_ready_sandboxes || log "cleanup: sandboxes still ready 30 s after the manifests went"
	fi
	stop_pid "${KUBELET_PID}"
	# Whatever kubelet left (a failed run): stop and remove it through CRI.
	remove_sandboxes
	stop_pid "${BERTHD_PID}"
	stop_pid "${REGISTRY_PID}"
	mkdir -p "${LOGS}"
	cp "${WORK}/kubelet.log" "${WORK}/berthd.log" "${LOGS}/" 2>/dev/null
	cp "${WORK}/root/containerd.log" "${LOGS}/" 2>/dev/null
	host_unmount "${WORK}"
	host_restore_sysctls
	for h in "${CGROUP_ROOTS[@]}"; do rmdir_tree "${h}/kubepods"; done
	if [[ -d /var/log/containers ]]; then
		find /var/log/containers -maxdepth 1 -type l -lname "${WORK}/*" -delete
	fi
	for p in /var/lib/kubelet /var/log/containers /var/log/pods; do
		[[ -n "${EXISTED[${p}]:-}" ]] && continue
		if [[ "${p}" == /var/lib/kubelet ]]; then rm -rf "${p}"; else rmdir "${p}" 2>/dev/null; fi
	done
	host_remove_kube_chains
	ip link del "${BRIDGE}" 2>/dev/null
	rm -rf "${WORK}"
	exit "${rc}"
}
trap cleanup EXIT

# ---- registry, berthd ----------------------------------------------------
mkdir -p "${STATIC}" "${PODLOGS}" "${KROOT}" "${LOGS}"
write_crictl_config
start_registry "${ROOT}/_output/images/layout"
write_conflist e2e "${BRIDGE}" 10.97.0.0/16

# berthd's metrics, for the sandbox pool's size at the end.
METRICS="127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${BERTHD}" --config "${WORK}/config.toml" --root "${WORK}/root" --state "${STATE}" \
	--socket "${SOCK}" --cni-conf-dir "${WORK}/net.d" --cni-bin-dir "${CNI_BIN}" \
	--registry-config-dir "${WORK}/hosts" --seccomp-profile-root "${KROOT}/seccomp" \
	--metrics-address "${METRICS}" --log-level debug >"${WORK}/berthd.log" 2>&1 &
BERTHD_PID=$!
wait_berthd 30

# ---- kubelet ---------------------------------------------------------------
cat >"${WORK}/kubelet.yaml" <<CONF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${SOCK}
imageServiceEndpoint: unix://${SOCK}
staticPodPath: ${STATIC}
podLogsDir: ${PODLOGS}
volumePluginDir: ${KROOT}/volume-plugins
fileCheckFrequency: 5s
volumeStatsAggPeriod: 10s
syncFrequency: 10s
crashLoopBackOff: {maxContainerRestartPeriod: 10s}
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
oomScoreAdj: 0
address: 127.0.0.1
port: 10250
readOnlyPort: 10255
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
featureGates: {PodAndContainerStatsFromCRI: ${STATS_FROM_CRI}}
CONF

"${BIN}/kubelet" --config "${WORK}/kubelet.yaml" --root-dir "${KROOT}" --cert-dir "${KROOT}/pki" \
	--hostname-override "${NODE}" --v=2 >"${WORK}/kubelet.log" 2>&1 &
KUBELET_PID=$!
kubelet_healthy() {
	kill -0 "${KUBELET_PID}" 2>/dev/null || die "kubelet exited: $(tail -20 "${WORK}/kubelet.log")"
	[[ "$(curl -fsS http://127.0.0.1:10248/healthz 2>/dev/null)" == ok ]]
}
wait_for 60 kubelet_healthy || die "kubelet not healthy within 60 s: $(tail -20 "${WORK}/kubelet.log")"
log "kubelet $("${BIN}/kubelet" --version) healthy"

# ---- the static pods --------------------------------------------------------
PODS=(two-containers nginx-hostport restarts shared-emptydir)
start=${SECONDS}
cp "${MANIFESTS}"/*.yaml "${STATIC}/"

pods_json() { curl -fsS "${RO}/pods"; }
# Every pod Running; every container Ready but the one that crashes on purpose.
all_up() {
	pods_json 2>/dev/null | jq -e --argjson n "${#PODS[@]}" '
		[(.items // [])[] | select(.metadata.labels["berth-e2e"] == "kubelet")] as $p
		| ($p | length) == $n
		and all($p[]; .status.phase == "Running"
			and all(.status.containerStatuses[]?; .ready or .name == "crashloop")
			and ((.status.containerStatuses // []) | length) == (.spec.containers | length))' >/dev/null
}
if wait_for 120 all_up; then
	pass "4 static pods Running, containers Ready (crashloop excepted) after $((SECONDS - start)) s"
else
	fail "static pods not all Running and Ready within 120 s"
	pods_json | jq -r '.items[] | "  \(.metadata.name) \(.status.phase) " +
		([.status.containerStatuses[]? | "\(.name):ready=\(.ready),restarts=\(.restartCount),\(.state|keys[0])"] | join(" "))' || true
fi
pod() { pods_json | jq -e --arg n "$1-${NODE}" '.items[] | select(.metadata.name == $n)'; }
ctr() { pod "$1" | jq -e --arg c "$2" '.status.containerStatuses[] | select(.name == $c)'; }

check "pod IPs on the CNI network (10.97/16)" bash -c \
	"curl -fsS ${RO}/pods | jq -e '[.items[].status.podIP] | length == 4 and all(startswith(\"10.97.\"))' >/dev/null"
check "pod conditions Ready (crashloop's pod excepted)" bash -c \
	"curl -fsS ${RO}/pods | jq -e '[.items[] | select(.metadata.name | startswith(\"restarts\") | not)
		| .status.conditions[] | select(.type == \"Ready\") | .status] | length == 3 and all(. == \"True\")' >/dev/null"
check "imageID is a digest reference" bash -c \
	"curl -fsS ${RO}/pods | jq -e '[.items[].status.containerStatuses[].imageID] | all(test(\"@sha256:[0-9a-f]{64}$\"))' >/dev/null"

nginx_answers() { curl -fsS --max-time 2 "http://127.0.0.1:${HOST_PORT}/" 2>/dev/null | grep -q "Welcome to nginx!"; }
check "hostPort 127.0.0.1:${HOST_PORT} answers Welcome to nginx!" wait_for 10 nginx_answers

# The exec liveness probe passes (ExecSync exit 0), so "app" never restarts.
check "exec liveness keeps two-containers/app at 0 restarts" bash -c \
	"[[ \$(curl -fsS ${RO}/pods | jq '.items[] | select(.metadata.name == \"two-containers-${NODE}\")
		| .status.containerStatuses[] | select(.name == \"app\") | .restartCount') == 0 ]]"

once_restarted() {
	ctr restarts once 2>/dev/null | jq -e '.restartCount == 1 and .ready
		and .lastState.terminated.exitCode == 3 and (.lastState.terminated.finishedAt != null)' >/dev/null
}
check "restarts/once exited 3, restarted once, Ready (lastState.terminated.exitCode 3)" wait_for 30 once_restarted
c1="$(ctr restarts crashloop | jq '.restartCount' || echo 0)"
crash_grew() { (($(ctr restarts crashloop | jq '.restartCount') > c1)); }
if wait_for 40 crash_grew; then
	pass "restarts/crashloop restart count grows (${c1} -> $(ctr restarts crashloop | jq '.restartCount'))"
else
	fail "restarts/crashloop restart count stayed at ${c1} for 40 s"
fi
check "crashloop's lastState.terminated.exitCode is 1" bash -c \
	"curl -fsS ${RO}/pods | jq -e '.items[].status.containerStatuses[] | select(.name == \"crashloop\") | .lastState.terminated.exitCode == 1' >/dev/null"

# ---- logs: kubelet reads the files under podLogsDir ---------------------------
logdir() { ls -d "${PODLOGS}/default_$1-${NODE}"_*/"$2"; }
cri_lines() { grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) (stdout|stderr) [PF] ' "$1"; }
check "two-containers/ticker log file in CRI format with ticks" bash -c \
	"f=\$(ls $(logdir two-containers ticker)/0.log) && grep -q ' stdout F tick [0-9]' \"\$f\"" &&
	check "log lines have RFC3339Nano timestamps" cri_lines "$(logdir two-containers ticker)/0.log"
KAPI="https://127.0.0.1:10250"
check "kubelet /containerLogs serves ticker's output" bash -c \
	"curl -fsSk '${KAPI}/containerLogs/default/two-containers-${NODE}/ticker?tailLines=3' | grep -q '^tick [0-9]'"
check "kubelet /containerLogs?previous=true serves once's first run" bash -c \
	"curl -fsSk '${KAPI}/containerLogs/default/restarts-${NODE}/once?previous=true' | grep -qx 'first run'"
check "shared emptyDir: reader logs the writer's token" bash -c \
	"curl -fsSk '${KAPI}/containerLogs/default/shared-emptydir-${NODE}/reader' | grep -qx 'read: shared-token-from-writer'"

# ---- crictl's view ----------------------------------------------------------
check "crictl: 4 ready sandboxes" bash -c \
	"[[ \$('${BIN}/crictl' --config ${WORK}/crictl.yaml pods --state ready -q | wc -l) == 4 ]]"
check "crictl: at least 6 of the 7 containers running (crashloop may be down)" bash -c \
	"(( \$('${BIN}/crictl' --config ${WORK}/crictl.yaml ps --state running -q | wc -l) >= 6 ))"

# ---- /stats/summary ----------------------------------------------------------
# Pods need two samples for usageNanoCores; give the stats a moment.
summary_has_pods() {
	curl -fsS "${RO}/stats/summary" | jq -e '[.pods[] | select(.podRef.namespace == "default")] | length == 4' >/dev/null
}
# usageNanoCores needs two samples of the runtime's counters, so a pod's
# first summary may lack it: poll until complete, report the last one.
summary_missing() {
	curl -fsS "${RO}/stats/summary" >"${WORK}/summary.json" 2>/dev/null || echo '{}' >"${WORK}/summary.json"
	# Without the gate, pod network comes from cAdvisor, whose raw cgroup
	# handler (the only one kubelet registers) has no network but the node's.
	jq -r --argjson net "${STATS_FROM_CRI}" '
	[.pods[]? | select(.podRef.namespace == "default") as $p
	| ( (if ($p.cpu.usageCoreNanoSeconds // null) == null then "\($p.podRef.name): cpu.usageCoreNanoSeconds" else empty end),
	    (if ($p.cpu.usageNanoCores // null) == null then "\($p.podRef.name): cpu.usageNanoCores" else empty end),
	    (if ($p.memory.workingSetBytes // null) == null then "\($p.podRef.name): memory.workingSetBytes" else empty end),
	    (if $net and ($p.network.rxBytes // null) == null then "\($p.podRef.name): network.rxBytes" else empty end),
	    ($p.containers[]? | select((.cpu.usageCoreNanoSeconds // null) == null or (.memory.workingSetBytes // null) == null)
	      | "\($p.podRef.name)/\(.name): cpu or memory"),
	    ($p.containers[]? | select((.rootfs.usedBytes // null) == null) | "\($p.podRef.name)/\(.name): rootfs.usedBytes"),
	    ($p.containers[]? | select((.logs.usedBytes // null) == null) | "\($p.podRef.name)/\(.name): logs.usedBytes") )]
	| .[]' "${WORK}/summary.json"
}
summary_complete() { summary_has_pods && [[ -z "$(summary_missing)" ]]; }
wait_for 30 summary_complete || true
missing="$(summary_missing)"
cp "${WORK}/summary.json" "${LOGS}/"
npods="$(jq '[.pods[]? | select(.podRef.namespace == "default")] | length' "${WORK}/summary.json")"
if [[ "${npods}" == 4 && -z "${missing}" ]]; then
	pass "/stats/summary: CPU, memory, rootfs and logs for 4 pods and their containers; pod network when from CRI (stats from CRI: ${STATS_FROM_CRI})"
else
	fail "/stats/summary: ${npods} default pods; missing: $(tr '\n' ';' <<<"${missing}")"
fi
check "/stats/summary: node runtime imageFs has usedBytes" \
	jq -e '.node.runtime.imageFs.usedBytes != null' "${WORK}/summary.json" >/dev/null

# ---- /metrics/cadvisor ---------------------------------------------------------
# Under the gate kubelet builds it from berthd's ListMetricDescriptors (read
# once, when kubelet starts) and ListPodSandboxMetrics; labels come sorted.
if [[ "${STATS_FROM_CRI}" == true ]]; then
	cadvisor_has() {
		curl -fsS "${RO}/metrics/cadvisor" >"${WORK}/cadvisor.txt" 2>/dev/null &&
			grep -Eq '^container_cpu_usage_seconds_total\{container="app",id="[0-9a-f]{64}",image="[^"]+",namespace="default",pod="two-containers-[^"]+"\} ' "${WORK}/cadvisor.txt" &&
			grep -Eq '^container_memory_working_set_bytes\{container="ticker",.*pod="two-containers-[^"]+"\} [1-9]' "${WORK}/cadvisor.txt" &&
			grep -Eq '^container_network_receive_bytes_total\{container="",.*interface="eth0",namespace="default",pod="two-containers-[^"]+"\} ' "${WORK}/cadvisor.txt"
	}
	check "/metrics/cadvisor: two-containers' CPU, working set and eth0 from berthd" wait_for 30 cadvisor_has
	cp "${WORK}/cadvisor.txt" "${LOGS}/" 2>/dev/null || true
fi

# ---- teardown ------------------------------------------------------------------
no_pods() { pods_json | jq -e '[(.items // [])[] | select(.metadata.labels["berth-e2e"] == "kubelet")] | length == 0' >/dev/null; }
t0=${SECONDS}
rm -f "${STATIC}"/*.yaml
if wait_for 60 no_ready_sandboxes; then
	pass "manifests removed: every sandbox stopped after $((SECONDS - t0)) s"
else
	fail "sandboxes still ready 60 s after the manifests were removed: $(crictl pods --state ready -q | tr '\n' ' ')"
fi
check "kubelet's /pods is empty" wait_for 30 no_pods
# Stopped sandboxes are removed by kubelet's GC, 20-25 s later.
if wait_for 90 no_sandboxes; then
	pass "kubelet's GC removed every sandbox $((SECONDS - t0)) s after the manifests went"
else
	fail "sandboxes left 90 s after the manifests went: $(crictl pods -q | tr '\n' ' ')"
fi
check "no containers left in crictl ps -a" bash -c \
	"[[ -z \$('${BIN}/crictl' --config ${WORK}/crictl.yaml ps -a -q) ]]"
netns_mounts="$(grep -c " ${STATE}/netns/" /proc/self/mountinfo || true)"
ns_mounts="$(grep -c " ${STATE}/sandboxes/" /proc/self/mountinfo || true)"
netns_files="$(find "${STATE}/netns" -mindepth 1 2>/dev/null | wc -l)"
if [[ "${netns_mounts}" == 0 && "${ns_mounts}" == 0 && "${netns_files}" == 0 ]]; then
	pass "no namespace pins, shm mounts or netns files left under berthd's state"
else
	fail "${netns_mounts} netns mounts, ${ns_mounts} pins or shm mounts and ${netns_files} netns files left under ${STATE}"
fi
no_hostport() { ! curl -fsS --max-time 1 "http://127.0.0.1:${HOST_PORT}/" >/dev/null 2>&1; }
check "hostPort ${HOST_PORT} released" no_hostport
check "no portmap rules for ${HOST_PORT} left" bash -c "! iptables-save -t nat | grep -q -- '--dport ${HOST_PORT}'"
no_pod_cgroups() { ! find /sys/fs/cgroup/memory/kubepods -mindepth 1 -type d -name 'pod*' 2>/dev/null | grep -q .; }
check "kubelet removed the pod cgroups" wait_for 30 no_pod_cgroups

# ---- summary ---------------------------------------------------------------------
printf '\n==== e2e-kubelet (kubelet %s against berthd, %d s) ====\n' \
	"$("${BIN}/kubelet" --version | awk '{print $2}')" "$((SECONDS - start))"
printf '%s\n' "${RESULTS[@]}"
# The CRI calls that failed, as kubelet saw them: the first place to look.
cri_errors="$(grep -oE '"[A-Za-z]+ from (runtime|image) service failed" err="[^"]{0,300}' "${WORK}/kubelet.log" |
	sed -E 's/"([A-Za-z]+) from [a-z]+ service failed" err="/\1: /' | sort | uniq -c | sort -rn | head -8 || true)"
if [[ -n "${cri_errors}" ]]; then
	printf 'CRI calls kubelet saw fail (count, RPC: error):\n%s\n' "${cri_errors}"
fi
if ((FAILED)); then
	printf 'RESULT: FAIL (logs: %s)\n' "${LOGS}"
	exit 1
fi
printf 'RESULT: PASS (logs: %s)\n' "${LOGS}"
