#!/usr/bin/env bash
# e2e-node.sh runs Kubernetes' own node conformance suite (the e2e_node.test
# of KUBERNETES_VERSION, focused on [NodeConformance], without [Flaky],
# [Slow] and [Serial]) against a fresh berthd, the way containerd's and
# CRI-O's CI run it against theirs, and checks the result against
# test/e2e-node/expected-failures.txt.
#
# RUNTIME=containerd runs the same selection against containerd's own CRI
# plugin instead: the same containerd, runc, CNI plugins, images (through
# hosts.toml mirrors to the same loopback registry), cgroup and kubelet
# configuration, so that a spec Berth fails and containerd passes is a
# Berth bug, and one both fail is this machine's. That run is a reference:
# it is not checked against the expectations file;
# hack/e2e-node-compare.sh puts the two reports side by side.
#
# e2e_node.test starts etcd, kube-apiserver and the namespace controller
# in-process and kubelet (_output/bin/kubelet, beside it) as a child; this
# script starts the loopback registry and berthd (own dirs under /run, own
# bridge and subnet) and calls ginkgo on the built binary directly. The
# upstream runner (make test-e2e-node, run_local.go) cannot run from the
# module zip.
#
# The host: kubelet runs on cgroup v1 with the cgroupfs driver and
# failCgroupV1: false. systemd-run is kept out of the suite's PATH (systemd
# is not PID 1 here). The suite then gives kubelet systemCgroups: /system,
# and kubelet would move every process of the root cgroup, the machine's
# own included, into it: --system-cgroups= (empty) in --kubelet-flags,
# which win over the config file, turns that off. The run records the
# cgroups of PID 1 and of every other process before it starts and fails
# if any that is still alive moved. Afterwards it removes what the run
# left: pods through CRI, mounts under /var/lib/kubelet and its work dir,
# the kubepods, kubelet and berthd cgroups, kubelet's KUBE-* iptables
# chains, the sysctls kubelet rewrote, /var/lib/kubelet, /var/log/pods
# and /var/log/containers (when the run created them).
#
# Environment:
#   RUNTIME         berth (default) or containerd (containerd's CRI plugin, for comparison)
#   FOCUS, SKIP     ginkgo regexps (default: the conformance focus and skip above)
#   PROCS           parallel ginkgo processes (default 4)
#   STATS_FROM_CRI  PodAndContainerStatsFromCRI gate for the suite and kubelet (default true,
#                   as containerd's node e2e workflow runs)
#   EXPECTED        expectations file (default test/e2e-node/expected-failures.txt)
#   KEEP_LOGS_DIR   receives the reports and logs (default _output/e2e-node/run, or
#                   _output/e2e-node/run-containerd)
#   BERTHD          berthd binary (default _output/bin/berthd)
#   CGROUP_ROOT     kubelet's cgroupRoot (default /, as upstream: some specs look for
#                   /kubepods). Set another (e.g. /berth-e2e-node-pods) when /kubepods
#                   holds someone else's cgroups: kubelet removes pod cgroups it does
#                   not know, and kills their processes.
#
# Usage: hack/e2e-node.sh   (`make e2e-node` runs it; root). To stop a run,
# send SIGTERM to this script: ginkgo, the suite's processes and kubelet
# (one process group) stop, the report covers what finished, and the
# cleanup runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
CNI_BIN="${ROOT}/_output/cni/bin"
LAYOUT="${ROOT}/_output/e2e-node/images/layout"
RUNTIME="${RUNTIME:-berth}"
case "${RUNTIME}" in
berth) LOGS="${KEEP_LOGS_DIR:-${ROOT}/_output/e2e-node/run}" ;;
containerd) LOGS="${KEEP_LOGS_DIR:-${ROOT}/_output/e2e-node/run-containerd}" ;;
*)
	echo "e2e-node: RUNTIME must be berth or containerd, not ${RUNTIME}" >&2
	exit 1
	;;
esac
EXPECTED="${EXPECTED:-${ROOT}/test/e2e-node/expected-failures.txt}"
FOCUS="${FOCUS:-\[NodeConformance\]}"
SKIP="${SKIP:-\[Flaky\]|\[Slow\]|\[Serial\]}"
PROCS="${PROCS:-4}"
STATS_FROM_CRI="${STATS_FROM_CRI:-true}"
BERTHD="${BERTHD:-${BIN}/berthd}"
NODE="$(hostname)"
BRIDGE=berthn0
SUBNET=10.92.0.0/16
RUNTIME_CGROUP=/berth-e2e-node
KUBELET_ROOT=/var/lib/kubelet
CGROUP_ROOT="${CGROUP_ROOT:-/}"
CGROUP_ROOT="/${CGROUP_ROOT#/}"
KUBEPODS="${CGROUP_ROOT%/}/kubepods"
LOG_PREFIX=e2e-node
# shellcheck source=hack/lib/kubelet-host.sh
source "${ROOT}/hack/lib/kubelet-host.sh"

[[ "$(id -u)" == 0 ]] || die "needs root"
[[ "${STATS_FROM_CRI}" == true || "${STATS_FROM_CRI}" == false ]] || die "STATS_FROM_CRI must be true or false"
[[ -x "${BERTHD}" ]] || die "${BERTHD} is missing: run make build"
for b in berth-registry crictl containerd containerd-shim-runc-v2 runc; do
	[[ -x "${BIN}/${b}" ]] || die "${BIN}/${b} is missing: run make deps build images"
done
for c in iptables-save jq python3; do command -v "${c}" >/dev/null || die "${c} is missing: run make deps"; done
"${ROOT}/hack/kubelet.sh"
"${ROOT}/hack/e2e-node-build.sh"
"${ROOT}/hack/e2e-node-images.sh"

# ---- what must be free, and the host state to compare and restore ----------
host_lock
for port in 6443 10248 10250 10255; do
	if python3 -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', ${port}))" 2>/dev/null; then
		continue
	fi
	die "127.0.0.1:${port} is in use: another kubelet or apiserver runs here (make e2e-kubelet?)"
done
CGROUP_ROOTS=()
for h in /sys/fs/cgroup/*/; do
	h="${h%/}"
	[[ -f "${h}/cgroup.procs" ]] || continue
	for d in "${KUBEPODS}" /kubelet /system "${RUNTIME_CGROUP}"; do
		[[ -d "${h}${d}" ]] && die "${h}${d} exists already: another kubelet or test uses it, or a run left it (see CGROUP_ROOT)"
	done
	CGROUP_ROOTS+=("${h}")
done
[[ -e "${KUBELET_ROOT}" ]] && die "${KUBELET_ROOT} exists: another kubelet uses it (the suite hard-codes it)"
host_record /var/log/containers /var/log/pods

# The cgroups of every process that exists now, by PID and start time (a
# reused PID is another process), read from /proc/PID/cgroup: nothing here
# looks at command lines.
WORK="$(mktemp -d /run/bn-XXXXXX)"
snapshot_cgroups() { # FILE: "pid starttime<TAB>cgroups" per live process, sorted
	python3 - "$1" <<'PY'
import os, sys
rows = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        with open(f"/proc/{pid}/cgroup") as f:
            cg = " ".join(f.read().split("\n"))
    except (OSError, IndexError):
        continue
    rows.append(f"{pid} {start}\t{cg}\n")
with open(sys.argv[1], "w") as f:
    f.writelines(sorted(rows))
PY
}
snapshot_cgroups "${WORK}/cgroups.before"
PID1_BEFORE="$(cat /proc/1/cgroup)"

REGISTRY_PID=""
BERTHD_PID="" # berthd, or containerd with RUNTIME=containerd
GINKGO_PID=""
SOCK="${WORK}/${RUNTIME}.sock"
STATE="${WORK}/st"
# stop_group PID stops the process group that PID leads (ginkgo, its
# e2e_node.test processes and the kubelet and apiserver they start):
# SIGTERM first, which ginkgo turns into an orderly stop with reports, then
# SIGKILL after two minutes.
stop_group() {
	local pid=$1
	[[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 0
	kill -TERM -- "-${pid}" 2>/dev/null || true
	for _ in $(seq 1200); do kill -0 -- "-${pid}" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- "-${pid}" 2>/dev/null || true
	wait "${pid}" 2>/dev/null || true
}
# cgroups_moved prints the processes kubelet's system cgroups would have
# taken: PID 1 and those in the root memory cgroup before the run, still
# alive after it, now elsewhere. Processes the run started are not in the
# snapshot; other users' processes elsewhere may move on their own.
cgroups_moved() {
	snapshot_cgroups "${WORK}/cgroups.after"
	LC_ALL=C join -t $'\t' "${WORK}/cgroups.before" "${WORK}/cgroups.after" |
		awk -F'\t' '$2 != $3 && ($1 ~ /^1 / || $2 ~ /:memory:\/ /) { print $1 ": " $2 " -> " $3 }'
}

cleanup() {
	local rc=$?
	set +e
	stop_group "${GINKGO_PID}"
	# The suite stops kubelet in its AfterSuite; whatever pods a failed run
	# left go through CRI.
	[[ -S "${SOCK}" ]] && remove_sandboxes
	stop_pid "${BERTHD_PID}" 30
	stop_pid "${REGISTRY_PID}" 30
	mkdir -p "${LOGS}"
	cp "${WORK}/berthd.log" "${WORK}/registry.log" "${LOGS}/" 2>/dev/null
	cp "${WORK}/root/containerd.log" "${LOGS}/" 2>/dev/null
	cp "${WORK}/containerd-cri.log" "${LOGS}/" 2>/dev/null
	host_unmount "${KUBELET_ROOT}" "${WORK}"
	host_restore_sysctls
	local h
	for h in "${CGROUP_ROOTS[@]}"; do
		rmdir_tree "${h}${KUBEPODS}"
		[[ "${CGROUP_ROOT}" != / ]] && rmdir_tree "${h}${CGROUP_ROOT}"
		rmdir_tree "${h}/kubelet"
		rmdir_tree "${h}/system"
		rmdir_tree "${h}${RUNTIME_CGROUP}"
	done
	if [[ -d /var/log/containers ]]; then
		find /var/log/containers -maxdepth 1 -type l -lname '/var/log/pods/*' -delete
	fi
	[[ -n "${EXISTED[/var/log/containers]:-}" ]] || rmdir /var/log/containers 2>/dev/null
	[[ -n "${EXISTED[/var/log/pods]:-}" ]] || rm -rf /var/log/pods
	rm -rf "${KUBELET_ROOT}"
	host_remove_kube_chains
	ip link del "${BRIDGE}" 2>/dev/null
	# Last: did anything outside the run change cgroup?
	local moved
	moved="$(cgroups_moved)"
	if [[ "$(cat /proc/1/cgroup)" != "${PID1_BEFORE}" || -n "${moved}" ]]; then
		printf 'e2e-node: FAIL: processes outside the run changed cgroup:\n%s\n' "${moved}" | tee "${LOGS}/cgroups-moved.txt" >&2
		rc=1
	else
		log "cgroups of PID 1 and of the $(grep -c ':memory:/ ' "${WORK}/cgroups.before") processes of the root memory cgroup: unchanged"
	fi
	rm -rf "${WORK}"
	exit "${rc}"
}
trap cleanup EXIT
# A run is long: SIGTERM or SIGINT to this script stops it cleanly.
trap 'exit 143' TERM INT

# ---- registry, the runtime ----------------------------------------------------
rm -rf "${LOGS}"
mkdir -p "${WORK}/run" "${WORK}/tmp" "${WORK}/path" "${LOGS}"
write_crictl_config
# Every upstream host the suite names goes to the loopback registry, the
# ones that must fail (invalid, private, non-existing) included: they then
# fail with "not found" without a packet leaving the machine.
start_registry "${LAYOUT}" \
	--host docker.io,registry-1.docker.io,gcr.io,k8s.gcr.io,registry.k8s.io,quay.io,ghcr.io,public.ecr.aws,invalid.registry.k8s.io
write_conflist e2e-node "${BRIDGE}" "${SUBNET}"
# The RuntimeClass and PodOverhead specs run pods of the handler
# "test-handler" (test/e2e_node's runtimeclass helpers; containerd's and
# CRI-O's node e2e configure it the same way): runc under another name,
# with a state root of its own.
cat >"${WORK}/config.toml" <<'CONF'
[runtimes.test-handler]
type = 'io.containerd.runc.v2'
CONF
# containerd_config writes the configuration of RUNTIME=containerd: its CRI
# plugin set up as berthd sets up its containerd and itself: the same runc
# and CNI plugins, cgroupfs, the same mirrors, no NRI, restricted OOM score
# adjustments (no CAP_SYS_RESOURCE here), a test-handler, and everything,
# network namespaces included, under the run's work dir. The sandbox image
# is the suite's pause, which the registry serves (berthd imports its own).
containerd_config() {
	local h runtimes=""
	for h in runc test-handler; do
		runtimes+="
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${h}]
  runtime_type = 'io.containerd.runc.v2'
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${h}.options]
  BinaryName = '${BIN}/runc'
  SystemdCgroup = false
  Root = '${WORK}/runc-${h}'"
	done
	cat <<CONF
version = 3
root = '${WORK}/root'
state = '${STATE}'
[grpc]
  address = '${SOCK}'
[ttrpc]
  address = '${SOCK}.ttrpc'
[plugins.'io.containerd.shim.v1.manager']
  socket_dir = '${WORK}/shims'
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = 'registry.k8s.io/pause:3.10.2'
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = '${WORK}/hosts'
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ['${CNI_BIN}']
  conf_dir = '${WORK}/net.d'
[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'
${runtimes}
CONF
}

if [[ "${CGROUP_ROOT}" != / ]]; then
	for h in "${CGROUP_ROOTS[@]}"; do mkdir -p "${h}${CGROUP_ROOT}"; done
fi
# berthd (or containerd) and all it starts run in a cgroup of their own,
# which kubelet reports as the "runtime" system container. Only in the
# hierarchies where this script runs in the root cgroup: where the machine
# has put it in a cgroup of its own (here the memory hierarchy), the
# runtime stays in it.
JOIN=()
for h in "${CGROUP_ROOTS[@]}"; do
	mkdir "${h}${RUNTIME_CGROUP}"
	grep -qx "$$" "${h}/cgroup.procs" && JOIN+=("${h}${RUNTIME_CGROUP}")
done
# in_runtime_cgroup COMMAND... runs COMMAND in that cgroup. Call it only
# in the background (&): it execs, so that $! is the runtime's own PID.
in_runtime_cgroup() {
	# shellcheck disable=SC2016
	CGS="${JOIN[*]}" exec bash -c 'for h in ${CGS}; do echo $$ >"${h}/cgroup.procs"; done; exec "$@"' _ "$@"
}
if [[ "${RUNTIME}" == berth ]]; then
	RUNTIME_BIN="${BERTHD}"
	in_runtime_cgroup "${BERTHD}" --config "${WORK}/config.toml" --root "${WORK}/root" --state "${STATE}" \
		--socket "${SOCK}" --cni-conf-dir "${WORK}/net.d" --cni-bin-dir "${CNI_BIN}" \
		--registry-config-dir "${WORK}/hosts" --seccomp-profile-root "${KUBELET_ROOT}/seccomp" \
		--log-level debug >"${WORK}/berthd.log" 2>&1 &
	BERTHD_PID=$!
else
	RUNTIME_BIN="${BIN}/containerd"
	containerd_config >"${WORK}/containerd.toml"
	# The shim and runc come from BIN, as berthd's containerd finds them.
	PATH="${BIN}:${PATH}" in_runtime_cgroup "${RUNTIME_BIN}" --config "${WORK}/containerd.toml" \
		--log-level debug >"${WORK}/containerd-cri.log" 2>&1 &
	BERTHD_PID=$!
fi
# No newline: the suite reads the file with strconv.Atoi.
printf %s "${BERTHD_PID}" >"${WORK}/runtime.pid"
if [[ "${RUNTIME}" == berth ]]; then
	wait_berthd 60
else
	containerd_ready() {
		kill -0 "${BERTHD_PID}" 2>/dev/null || die "containerd exited: $(tail -20 "${WORK}/containerd-cri.log")"
		crictl info 2>/dev/null | grep -q '"RuntimeReady"' && crictl imagefsinfo >/dev/null 2>&1
	}
	wait_for 60 containerd_ready || die "containerd's CRI did not serve within 60 s"
fi
log "${RUNTIME} in ${RUNTIME_CGROUP} of ${#JOIN[@]} of ${#CGROUP_ROOTS[@]} hierarchies"

# ---- the suite -----------------------------------------------------------------
# A PATH without systemd-run: the suite would start kubelet as a transient
# systemd unit, and systemd does not run here.
IFS=: read -r -a path_dirs <<<"${PATH}"
for d in "${path_dirs[@]}"; do
	[[ -d "${d}" ]] || continue
	for f in "${d}"/*; do
		n="${f##*/}"
		[[ "${n}" == systemd-run || -e "${WORK}/path/${n}" ]] && continue
		ln -s "${f}" "${WORK}/path/${n}"
	done
done

cat >"${WORK}/kubelet-config.yaml" <<CONF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# test/e2e_node/jenkins/default-kubelet-config.yaml, plus what this host needs.
cgroupDriver: cgroupfs
cgroupRoot: ${CGROUP_ROOT}
failCgroupV1: false
failSwapOn: false
podCIDR: "10.100.0.0/24"
volumeStatsAggPeriod: 10s
fileCheckFrequency: 10s
evictionPressureTransitionPeriod: 30s
evictionHard:
  memory.available: 250Mi
  nodefs.available: 10%
  nodefs.inodesFree: 5%
evictionMinimumReclaim:
  nodefs.available: 5%
  nodefs.inodesFree: 5%
serializeImagePulls: false
CONF

KUBELET_FLAGS="--system-cgroups= --runtime-cgroups=${RUNTIME_CGROUP} --cluster-domain=cluster.local"
GATES=()
[[ "${STATS_FROM_CRI}" == true ]] && GATES=(--feature-gates=PodAndContainerStatsFromCRI=true)
log "ginkgo --procs=${PROCS} --focus='${FOCUS}' --skip='${SKIP}' (logs: ${LOGS})"
start=${SECONDS}
set +e
(
	cd "${WORK}/run" &&
		exec setsid env PATH="${WORK}/path" TMPDIR="${WORK}/tmp" "${BIN}/ginkgo" --procs="${PROCS}" --timeout=4h \
			--focus="${FOCUS}" --skip="${SKIP}" --no-color \
			--output-dir="${LOGS}" --json-report=report.json --junit-report=junit.xml \
			"${BIN}/e2e_node.test" -- \
			--container-runtime-endpoint="unix://${SOCK}" \
			--container-runtime-process-name="${RUNTIME_BIN}" \
			--container-runtime-pid-file="${WORK}/runtime.pid" \
			--prepull-images=false --node-name="${NODE}" --report-dir="${LOGS}" --v=2 \
			--dns-domain=cluster.local --kubelet-config-file="${WORK}/kubelet-config.yaml" \
			"${GATES[@]}" --kubelet-flags="${KUBELET_FLAGS}"
) >"${LOGS}/ginkgo.log" 2>&1 &
GINKGO_PID=$!
wait "${GINKGO_PID}"
ginkgo_rc=$?
GINKGO_PID=""
set -e
duration=$((SECONDS - start))
log "ginkgo exited ${ginkgo_rc} after ${duration} s"

# kubelet must have run without system cgroups; the cleanup compares the
# cgroups of every process besides.
if grep -q 'SystemCgroupsName' "${LOGS}/kubelet.log" 2>/dev/null &&
	! grep -qE '"?SystemCgroupsName"?:""' "${LOGS}/kubelet.log"; then
	die "kubelet ran with system cgroups: $(grep -oE '"?SystemCgroupsName"?:"[^"]*"' "${LOGS}/kubelet.log" | head -1)"
fi

[[ -s "${LOGS}/report.json" ]] || die "no ginkgo report in ${LOGS}: $(tail -30 "${LOGS}/ginkgo.log")"
printf 'e2e-node: %s, %s, %d s, %d procs\n' "$("${BIN}/kubelet" --version)" "$(crictl version | awk -v rt="${RUNTIME}" '/RuntimeVersion/ {print rt " " $2}')" "${duration}" "${PROCS}" >"${LOGS}/summary.txt"
if [[ "${RUNTIME}" == containerd ]]; then
	# The reference run lists its failures (as unexpected, against an empty
	# list) and does not fail on them.
	(cd "${ROOT}/test" && go run ./cmd/critest-report --name e2e-node-containerd --selected-only \
		--groups "${LOGS}/groups.md" --report "${LOGS}/report.json" --expected /dev/null) | tee -a "${LOGS}/summary.txt" || true
	exit 0
fi
(cd "${ROOT}/test" && go run ./cmd/critest-report --name e2e-node --selected-only \
	--groups "${LOGS}/groups.md" --report "${LOGS}/report.json" --expected "${EXPECTED}") | tee -a "${LOGS}/summary.txt"
