# shellcheck shell=bash
# kubelet-host.sh holds the shell functions of the scripts that run a real
# kubelet on this machine against a fresh berthd (hack/e2e-kubelet.sh,
# hack/e2e-node.sh). It is sourced, never run. Before calling them the
# script sets LOG_PREFIX (its name in log lines), BIN, WORK (its temporary
# dir, where berthd's socket, the registry's files and crictl.yaml live),
# and BERTHD_PID once berthd runs.
#
# kubelet changes the host outside WORK. host_record notes, before kubelet
# starts, what it may change; the host_* functions of the script's cleanup
# undo it: the sysctls kubelet rewrites, kubelet's KUBE-* iptables chains,
# the mounts under its directories. Only KUBE-* chains: other users of this
# machine's iptables (CNI plugins of other runtimes) come and go meanwhile
# and are not ours.

log() { printf '%s: %s\n' "${LOG_PREFIX}" "$*"; }
die() {
	printf '%s: %s\n' "${LOG_PREFIX}" "$*" >&2
	exit 1
}

# host_lock: one kubelet run on this machine at a time. Whatever its
# --root-dir, kubelet writes host-wide places (/var/lib/kubelet/
# device-plugins, the kubepods cgroups, KUBE-* chains, sysctls), and a
# second kubelet meanwhile breaks the first's run or its cleanup. A script
# calls host_lock before host_record; a second one waits here until the
# first has ended. The lock is held by descriptor 9, so it is released
# when the script and what it started have exited, however they end.
HOST_LOCK=${HOST_LOCK:-/run/lock/berth-kubelet-host.lock}
host_lock() {
	mkdir -p "$(dirname "${HOST_LOCK}")"
	exec 9>>"${HOST_LOCK}"
	if ! flock -n 9; then
		log "another kubelet run holds ${HOST_LOCK}: waiting for it to end"
		flock 9
	fi
}

# wait_for SECONDS COMMAND...: polls every 0.5 s until COMMAND succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10).
stop_pid() {
	local pid=$1 tenths=$((${2:-10} * 10))
	[[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 0
	kill -TERM "${pid}" 2>/dev/null || true
	for _ in $(seq "${tenths}"); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
	kill -0 "${pid}" 2>/dev/null && kill -KILL "${pid}" 2>/dev/null
	wait "${pid}" 2>/dev/null || true
}

# rmdir_tree DIR removes an empty cgroup tree bottom-up; a cgroup with tasks
# stays, and is reported.
rmdir_tree() {
	local d
	[[ -d "$1" ]] || return 0
	while read -r d; do rmdir "${d}" 2>/dev/null || log "cleanup: cgroup ${d} is not empty, left in place"; done \
		< <(find "$1" -depth -type d)
}

crictl() { "${BIN}/crictl" --config "${WORK}/crictl.yaml" "$@"; }
no_ready_sandboxes() { [[ -z "$(crictl pods --state ready -q 2>/dev/null)" ]]; }
no_sandboxes() { [[ -z "$(crictl pods -q 2>/dev/null)" ]]; }

# remove_sandboxes stops and removes through CRI every pod a failed run left.
remove_sandboxes() {
	local ids id
	ids="$(crictl pods -q 2>/dev/null)" || return 0
	[[ -n "${ids}" ]] || return 0
	log "cleanup: removing $(wc -l <<<"${ids}") sandboxes the run left"
	for id in ${ids}; do crictl stopp "${id}" >/dev/null 2>&1; done
	for id in ${ids}; do crictl rmp -f "${id}" >/dev/null 2>&1; done
}

# ---- berthd and its loopback registry ----------------------------------------

# start_registry LAYOUT [berth-registry flags...] serves the OCI layout on a
# free loopback port and writes the hosts.toml mirrors into WORK/hosts;
# sets REGISTRY_PID.
start_registry() {
	local layout=$1
	shift
	mkdir -p "${WORK}/hosts"
	"${BIN}/berth-registry" --layout "${layout}" --addr 127.0.0.1:0 --addr-file "${WORK}/registry.addr" \
		--hosts-dir "${WORK}/hosts" --quiet "$@" >"${WORK}/registry.log" 2>&1 &
	REGISTRY_PID=$!
	wait_for 10 test -s "${WORK}/registry.addr" || die "the registry did not start: $(tail -5 "${WORK}/registry.log")"
}

# write_conflist NAME BRIDGE SUBNET writes WORK/net.d/10-NAME.conflist: a
# bridge of its own with host-local addresses and portmap, beside anyone
# else's.
write_conflist() {
	mkdir -p "${WORK}/net.d"
	cat >"${WORK}/net.d/10-$1.conflist" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "berth-$1",
  "plugins": [
    {"type": "bridge", "bridge": "$2", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$3"}]], "dataDir": "${WORK}/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}
CONF
}

# write_crictl_config points crictl at SOCK.
write_crictl_config() {
	printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "${SOCK}" "${SOCK}" >"${WORK}/crictl.yaml"
}

# wait_berthd SECONDS waits until berthd serves: Status answers while
# start-up and recovery run, ImageFsInfo only once they are done.
wait_berthd() {
	berthd_ready() {
		kill -0 "${BERTHD_PID}" 2>/dev/null || die "berthd exited: $(tail -20 "${WORK}/berthd.log")"
		crictl imagefsinfo >/dev/null 2>&1
	}
	wait_for "$1" berthd_ready || die "berthd did not serve within $1 s"
	log "berthd $(crictl version | awk '/RuntimeVersion/ {print $2}') on ${SOCK}"
}

# ---- the host state kubelet changes ------------------------------------------

HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
declare -A SYSCTL_BEFORE=()
declare -A EXISTED=()
IPT_BEFORE=""
IP6T_BEFORE=""
kube_chains() { "$1-save" 2>/dev/null | awk '/^\*/ {t=substr($1,2)} /^:KUBE-/ {print t, substr($1,2)}' | sort; }

# host_record PATH... notes the sysctls kubelet rewrites, its iptables
# chains, and which of the PATHs exist (EXISTED[PATH]=1).
host_record() {
	local s p
	for s in "${HOST_SYSCTLS[@]}"; do SYSCTL_BEFORE[${s}]="$(sysctl -n "${s}")"; done
	for p in "$@"; do if [[ -e "${p}" ]]; then EXISTED[${p}]=1; fi; done
	IPT_BEFORE="$(kube_chains iptables)"
	IP6T_BEFORE="$(kube_chains ip6tables)"
}

host_restore_sysctls() {
	local s
	for s in "${HOST_SYSCTLS[@]}"; do
		[[ "$(sysctl -n "${s}")" == "${SYSCTL_BEFORE[${s}]}" ]] || sysctl -qw "${s}=${SYSCTL_BEFORE[${s}]}"
	done
}

# host_remove_kube_chains deletes the KUBE-* chains kubelet added
# (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), the jumps into
# them first (INPUT and OUTPUT -j KUBE-FIREWALL).
host_remove_kube_chains() {
	local t c cmd before
	for cmd in iptables ip6tables; do
		before="${IPT_BEFORE}"
		[[ "${cmd}" == ip6tables ]] && before="${IP6T_BEFORE}"
		while read -r t c; do
			[[ -n "${c}" ]] || continue
			"${cmd}-save" -t "${t}" | grep -E -- "^-A [^ ]+ .*-j ${c}\$" | sed 's/^-A //' |
				while read -r -a rule; do "${cmd}" -w -t "${t}" -D "${rule[@]}"; done
			"${cmd}" -w -t "${t}" -F "${c}" 2>/dev/null
			"${cmd}" -w -t "${t}" -X "${c}" 2>/dev/null || log "cleanup: could not delete ${cmd} chain ${t}/${c}"
		done < <(comm -13 <(printf '%s\n' "${before}") <(kube_chains "${cmd}"))
	done
}

# host_unmount DIR... lazily unmounts DIR and everything mounted below it,
# deepest first (kubelet bind-mounts its root dir onto itself, and pod
# volumes under it).
host_unmount() {
	local m
	for m in "$@"; do
		grep -E " ${m}(/| )" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
	done
}
