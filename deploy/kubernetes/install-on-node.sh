#!/usr/bin/env bash
# install-on-node.sh is the DaemonSet installer's init container
# (20-daemonset.yaml): it installs the Berth this image carries onto the
# node, then has the running berthd become it.
#
# The node's directories are mounted under /host (DESTDIR), so
# hack/install.sh writes exactly what `make install` writes, with the
# ConfigMap's config.toml as /etc/berth/config.toml. berthd is upgraded only
# when the install changed something or it is not running, so a pod that
# starts again after a reboot leaves a running berthd alone.
#
# A running berthd is upgraded in place, with no moment where kubelet finds
# no runtime: it is sent SIGUSR2 (hostPID: the pid is the one berthd writes
# to berthd.pid in its state dir, mounted at /host/run/berth), re-executes
# the binary just installed in the same process, keeps its CRI socket open
# throughout and adopts its containerd and pods. The script waits until the
# socket answers with this image's version. That works with or without
# systemd; a berthd too old to write berthd.pid does not know the signal and
# is restarted through systemd instead. Where systemd is PID 1 it also
# enables the unit and (re)starts it when berthd is not running; systemctl
# runs in the host's namespaces (nsenter into PID 1). A restart signals
# berthd alone (KillMode=process): pods, this one included, keep running.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UNIT="${BERTH_UNIT:-berth.service}"
# Where the pod mounts the node's directories.
export DESTDIR="${DESTDIR:-/host}"
RECORD="${DESTDIR}${PREFIX:-/usr/local}/lib/berth/installed"
# berthd's state dir on the node (config: state) and its CRI socket.
RUN_DIR="${DESTDIR}${BERTH_RUN_DIR:-/run/berth}"
SOCKET="${BERTH_SOCKET:-${RUN_DIR}/berth.sock}"
UPGRADE_TIMEOUT="${UPGRADE_TIMEOUT:-300}"

case "${UNIT}" in
berth.service) OTHER=berth-external-containerd.service ;;
berth-external-containerd.service) OTHER=berth.service ;;
*)
	echo "install-on-node.sh: BERTH_UNIT must be berth.service or berth-external-containerd.service, got ${UNIT}" >&2
	exit 1
	;;
esac

host() { nsenter --target 1 --mount --uts --ipc --net --pid -- "$@"; }
# systemd as PID 1, as sd_booted(3) tells: /run/systemd/system exists.
has_systemd() { host test -d /run/systemd/system; }
want="$("${HERE}/_output/bin/berthd" --version | awk 'NR == 1 {print $2}')"
runtime_version() {
	"${HERE}/_output/bin/crictl" --runtime-endpoint "unix://${SOCKET}" --timeout 10s version 2>/dev/null |
		awk '$1 == "RuntimeVersion:" {print $2}'
}
# berthd_pid prints the pid of the berthd that wrote berthd.pid, if it runs.
berthd_pid() {
	local pid
	pid="$(cat "${RUN_DIR}/berthd.pid" 2>/dev/null)" || return 1
	[[ "${pid}" =~ ^[0-9]+$ && "$(cat "/proc/${pid}/comm" 2>/dev/null)" == berthd ]] || return 1
	echo "${pid}"
}

# upgrade_in_place PID: the re-executed berthd rewrites berthd.pid when it
# starts and accepts on the socket once it is ready, so the first answer
# after the rewrite comes from the new binary.
upgrade_in_place() {
	local pid=$1 stamp deadline=$((SECONDS + UPGRADE_TIMEOUT)) got
	stamp="$(stat -c %y "${RUN_DIR}/berthd.pid")"
	echo "upgrading berthd ${pid} ($(runtime_version || true)) in place to ${want}"
	kill -USR2 "${pid}"
	until [[ "$(stat -c %y "${RUN_DIR}/berthd.pid" 2>/dev/null)" != "${stamp}" ]] && got="$(runtime_version)" && [[ -n "${got}" ]]; do
		if ((SECONDS > deadline)); then
			echo "install-on-node.sh: berthd did not come back within ${UPGRADE_TIMEOUT} s (its log says why)" >&2
			exit 1
		fi
		sleep 0.5
	done
	if [[ "${got}" != "${want}" ]]; then
		echo "install-on-node.sh: berthd ${pid} runs ${got} after the upgrade, not ${want}: it kept the old binary (its log says why)" >&2
		exit 1
	fi
	echo "berthd ${pid} upgraded in place: now ${got}"
}

before="$(sha256sum "${RECORD}" 2>/dev/null || true)"
"${HERE}/hack/install.sh" install
after="$(sha256sum "${RECORD}")"

systemd=""
if has_systemd; then
	systemd=1
	host systemctl daemon-reload
	# One of the two at boot: they conflict. Starting UNIT below stops the other.
	host systemctl disable "${OTHER}"
	host systemctl enable "${UNIT}"
fi
if pid="$(berthd_pid)"; then
	if [[ "${before}" == "${after}" ]]; then
		echo "berthd ${pid} runs what this image carries: not upgraded"
		exit 0
	fi
	upgrade_in_place "${pid}"
	exit 0
fi
if [[ -z "${systemd}" ]]; then
	echo "install-on-node.sh: no berthd runs here (no ${RUN_DIR}/berthd.pid naming one) and the node has no systemd to start it: start berthd as docs/install.md says" >&2
	exit 1
fi
if [[ "${before}" == "${after}" ]] && host systemctl is-active --quiet "${UNIT}"; then
	echo "${UNIT} runs what this image carries: not restarted"
	exit 0
fi
# systemctl waits for berthd's READY=1 (Type=notify): a berthd that cannot
# start fails this container, and the rollout stops at this node.
host systemctl restart "${UNIT}"
echo "${UNIT} restarted: $("${HERE}/_output/bin/berthd" --version | head -1)"
