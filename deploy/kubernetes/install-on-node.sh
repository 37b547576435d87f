#!/usr/bin/env bash
# install-on-node.sh is the DaemonSet installer's init container
# (20-daemonset.yaml): it installs the Berth this image carries onto the
# node, then has the node's systemd run it.
#
# The node's directories are mounted under /host (DESTDIR), so
# hack/install.sh writes exactly what `make install` writes, with the
# ConfigMap's config.toml as /etc/berth/config.toml. systemctl runs in the
# host's namespaces (hostPID, nsenter into PID 1). The unit is restarted only
# when the install changed something or it is not running, so a pod that
# starts again after a reboot leaves a running berthd alone.
#
# Restarting berth.service signals berthd alone (KillMode=process): pods,
# this one included, keep running.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UNIT="${BERTH_UNIT:-berth.service}"
# Where the pod mounts the node's directories.
export DESTDIR="${DESTDIR:-/host}"
RECORD="${DESTDIR}${PREFIX:-/usr/local}/lib/berth/installed"

case "${UNIT}" in
berth.service) OTHER=berth-external-containerd.service ;;
berth-external-containerd.service) OTHER=berth.service ;;
*)
	echo "install-on-node.sh: BERTH_UNIT must be berth.service or berth-external-containerd.service, got ${UNIT}" >&2
	exit 1
	;;
esac

host() { nsenter --target 1 --mount --uts --ipc --net --pid -- "$@"; }

before="$(sha256sum "${RECORD}" 2>/dev/null || true)"
"${HERE}/hack/install.sh" install
after="$(sha256sum "${RECORD}")"

host systemctl daemon-reload
# One of the two at boot: they conflict. Starting UNIT below stops the other.
host systemctl disable "${OTHER}"
host systemctl enable "${UNIT}"
if [[ "${before}" == "${after}" ]] && host systemctl is-active --quiet "${UNIT}"; then
	echo "${UNIT} runs what this image carries: not restarted"
	exit 0
fi
# systemctl waits for berthd's READY=1 (Type=notify): a berthd that cannot
# start fails this container, and the rollout stops at this node.
host systemctl restart "${UNIT}"
echo "${UNIT} restarted: $("${HERE}/_output/bin/berthd" --version | head -1)"
