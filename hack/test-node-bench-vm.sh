#!/bin/bash
# test-node-bench-vm.sh runs INSIDE the test node VM as the payload disk's
# run.sh when hack/test-node.sh runs with BENCH=yes (`make bench-node`).
# It is hack/bench.sh's lifecycle phase on a production node: berthd and
# containerd with its own CRI plugin, side by side, both with the systemd
# cgroup driver on cgroup v2, both serving a runc and a crun (Debian's)
# runtime handler configured alike, the same CNI plugins (bridge,
# host-local, portmap; a bridge and subnet each) and the same images
# (berth-registry on the VM's loopback). berth-bench then runs once per
# handler in BENCH_HANDLERS, alternating between the two runtimes call by
# call, each pod in a kubepods slice of its own as kubelet's systemd
# driver makes them (--pod-slices).
#
# It reports to the host on the second serial port as test-node-vm.sh does
# (INFO, PLAN, PASS/FAIL, DONE) and writes each handler's table to
# results/bench-<handler>.md on the payload disk, which the host copies out.
# The payload's bench.env sets BENCH_HANDLERS and BENCH_ARGS (berth-bench's
# flags).
set -uo pipefail

N=/mnt/node
RES="${N}/results"
mkdir -p "${RES}"
exec 3>/dev/ttyS1
say() { printf '%s\n' "$*" >&3; }
say "INFO payload started $(cut -d' ' -f1 /proc/uptime) s after the kernel"
say "INFO bench: $(uname -r), $(systemctl --version | head -1), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup), $(/usr/bin/crun --version | head -1)"

BENCH_HANDLERS="runc crun"
BENCH_ARGS=""
# shellcheck source=/dev/null
[[ -f "${N}/bench.env" ]] && . "${N}/bench.env"
BIN="${N}/bin"
CNI_BIN="${N}/cni/bin"
WORK="$(mktemp -d /run/bb-XXXXXX)"
PIDS=()

collect() {
	for pid in "${PIDS[@]}"; do kill -TERM "${pid}" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "${pid}" 2>/dev/null; done
	cp "${WORK}/berthd.log" "${WORK}/ctrd.log" "${RES}/" 2>/dev/null
	journalctl -b --no-pager >"${RES}/journal.log" 2>&1
	dmesg >"${RES}/dmesg.log" 2>&1
	sync
}
trap 'collect; say DONE' EXIT

# The networks and containerd's config, as hack/bench.sh writes them.
# shellcheck source=hack/lib/bench-config.sh
. "${N}/lib/bench-config.sh"

mkdir -p "${WORK}/hosts" "${WORK}/berth-net" "${WORK}/ctrd-net"
"${BIN}/berth-registry" --layout "${N}/images/layout" --addr 127.0.0.1:0 \
	--addr-file "${WORK}/registry.addr" --hosts-dir "${WORK}/hosts" --quiet &
PIDS+=($!)
for _ in $(seq 600); do [[ -s "${WORK}/registry.addr" ]] && break; sleep 0.5; done
bench_conflist berth-bench bbberth0 10.94.0.0/22 "${WORK}/berth-ipam" >"${WORK}/berth-net/10.conflist"
bench_conflist ctrd-bench bbctrd0 10.94.4.0/22 "${WORK}/ctrd-ipam" >"${WORK}/ctrd-net/10.conflist"

# crun 1.8.1 (Debian 12's) refuses a spec whose ociVersion is not 1.0.x
# ("unknown version specified"; crun 1.14.3 dropped the check). Berth
# labels the specs of a runtime that declares spec 1.0.0 with that version
# (internal/handlers/specversion.go); containerd 2.4.2's CRI writes
# runtime-spec v1.3.0's "1.3.0" into every spec, and the pause's spec
# ignores base_runtime_spec, so its crun pods cannot start. Both runtimes'
# crun handler therefore runs this wrapper, which gives `crun create` a copy
# of the bundle's config.json labelled 1.0.0 (--config; the bundle is left
# as the shim wrote it) and passes every other call through: the same
# binary for both, so its cost falls on both alike.
# (Not in /run, which is noexec here.)
CRUN=/usr/local/libexec/berth-bench/crun
mkdir -p "${CRUN%/*}" "${WORK}/crun-specs"
cat >"${CRUN}" <<WRAPPER
#!/bin/sh
bundle= prev= create=no
for a in "\$@"; do
	case "\${prev}" in --bundle | -b) bundle="\${a}" ;; esac
	[ "\${a}" = create ] && create=yes
	prev="\${a}"
done
[ "\${create}" = yes ] && [ -n "\${bundle}" ] || exec /usr/bin/crun "\$@"
spec="${WORK}/crun-specs/\${bundle##*/}.json"
sed 's/"ociVersion":"[^"]*"/"ociVersion":"1.0.0"/' "\${bundle}/config.json" >"\${spec}" || exit 1
first=yes
for a in "\$@"; do
	[ "\${first}" = yes ] && set --
	first=no
	set -- "\$@" "\${a}"
	[ "\${a}" = create ] && set -- "\$@" --config "\${spec}"
done
exec /usr/bin/crun "\$@"
WRAPPER
chmod 0755 "${CRUN}"

# containerd's CRI as hack/bench.sh configures it, with the systemd cgroup
# driver. Its crun is Berth's crun handler (make install CRUN=yes,
# [runtimes.crun]): the runc shim running crun (the wrapper above),
# SystemdCgroup following the systemd driver, a state root of its own.
bench_ctrd_config "${WORK}" "${CNI_BIN}" "${BIN}/runc" "${CRUN}" true >"${WORK}/ctrd.toml"
# Berth as make install CRUN=yes configures it, on the systemd driver
# (auto would pick it too: systemd is PID 1 here), crun being the wrapper.
cat >"${WORK}/berth.toml" <<CONF
cgroup_driver = "systemd"
[runtimes.crun]
  binary = "${CRUN}"
CONF
export PATH="${BIN}:/usr/local/bin:${PATH}"
"${BIN}/containerd" --config "${WORK}/ctrd.toml" >"${WORK}/ctrd.log" 2>&1 &
PIDS+=($!)
"${BIN}/berthd" --config "${WORK}/berth.toml" --root "${WORK}/berth-root" --state "${WORK}/bst" \
	--socket "${WORK}/berth.sock" --cni-conf-dir "${WORK}/berth-net" --cni-bin-dir "${CNI_BIN}" \
	--registry-config-dir "${WORK}/hosts" --log-level info >"${WORK}/berthd.log" 2>&1 &
PIDS+=($!)

for sock in berth ctrd; do
	for _ in $(seq 600); do
		bench_serving "${BIN}" "${WORK}" "${sock}" && break
		sleep 0.5
	done
	if ! bench_serving "${BIN}" "${WORK}" "${sock}"; then
		say "FAIL bench/start: ${sock} did not serve within 5 min"
		exit 1
	fi
done
say "INFO bench: berthd and containerd's CRI serve ($(cut -d' ' -f1 /proc/uptime) s after the kernel)"

# What the wrapper adds to a crun call (on both runtimes alike).
per_call() { # command...: mean ms of 20 runs
	local t0
	t0=$(date +%s%N)
	for _ in $(seq 20); do "$@" >/dev/null 2>&1; done
	echo $((($(date +%s%N) - t0) / 20000000))
}
say "INFO bench: crun --version takes $(per_call /usr/bin/crun --version) ms, through the wrapper $(per_call "${CRUN}" --version) ms (mean of 20)"

cd /tmp || exit 1
for h in ${BENCH_HANDLERS}; do say "PLAN bench/${h}"; done
for h in ${BENCH_HANDLERS}; do
	t0=${SECONDS}
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
	if "${BIN}/berth-bench" --endpoints "berth=${WORK}/berth.sock,containerd=${WORK}/ctrd.sock" \
		--runtime-handler "${h}" --pod-slices --log-root "${WORK}/pod-logs" --memory-pods 0 --list-containers 0 --markdown ${BENCH_ARGS} \
		>"${RES}/bench-${h}.md" 2>"${RES}/bench-${h}.err"; then
		say "PASS bench/${h} ($((SECONDS - t0))s)"
	else
		say "FAIL bench/${h}: $(tail -1 "${RES}/bench-${h}.err")"
	fi
done
