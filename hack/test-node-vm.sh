#!/bin/bash
# test-node-vm.sh runs INSIDE the test node VM, as the payload disk's run.sh
# (hack/test-node.sh copies it there; the image's berth-node.service runs it
# at boot and powers the VM off afterwards). It installs Berth the way an
# operator does (hack/install.sh, then systemctl enable --now berth.service),
# runs the checks, and writes one line per result to the second serial port,
# which the host reads:
#   INFO <text>          facts about the node (boot time, versions)
#   PLAN <check>         a check that will report (a missing result fails)
#   PASS <check> [time]  /  FAIL <check>: <reason>
#   DONE
# Logs go to results/ on the payload disk, which the host copies out.
set -uo pipefail

N=/mnt/node
RES="${N}/results"
mkdir -p "${RES}"
exec 3>/dev/ttyS1
say() { printf '%s\n' "$*" >&3; }
say "INFO payload started $(cut -d' ' -f1 /proc/uptime) s after the kernel"

variant="$(sed -n 's/.*berth\.variant=\([a-z]*\).*/\1/p' /proc/cmdline)"
checks="$(sed -n 's/.*berth\.checks=\([^ ]*\).*/\1/p' /proc/cmdline)"
critest_on="$(sed -n 's/.*berth\.critest=\([a-z]*\).*/\1/p' /proc/cmdline)"
[[ -n "${variant}" ]] || variant=minimal
say "INFO ${variant}: $(uname -r), $(systemctl --version | head -1), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"

overlay_at_boot=no
grep -qw overlay /proc/filesystems && overlay_at_boot=yes

collect() {
	journalctl -b --no-pager >"${RES}/journal.log" 2>&1
	journalctl -u berth.service --no-pager -o short-precise >"${RES}/berth.log" 2>&1
	journalctl -u kubelet-node.service --no-pager >"${RES}/kubelet.log" 2>&1
	cp /var/lib/berth/containerd.log "${RES}/" 2>/dev/null
	dmesg >"${RES}/dmesg.log" 2>&1
	sync
}
trap 'collect; say DONE' EXIT

# ---- Berth, as an operator installs it -------------------------------------
# The loopback registry first: it writes the hosts.toml mirrors berthd reads
# from its default registry_config_dir.
mkdir -p /etc/berth/certs.d
systemd-run --quiet --unit=berth-registry --property=Type=exec \
	"${N}/bin/berth-registry" --layout "${N}/images/layout" --addr 127.0.0.1:0 \
	--addr-file /run/berth-registry.addr --hosts-dir /etc/berth/certs.d --quiet
for _ in $(seq 600); do [[ -s /run/berth-registry.addr ]] && break; sleep 0.5; done

t0=${SECONDS}
# Debian's crun, when the image has it, becomes the crun runtime handler
# (make install CRUN=yes).
crun=no
[[ -x /usr/bin/crun ]] && crun=yes
if ! DESTDIR= PREFIX=/usr/local SRC_BIN="${N}/bin" SRC_CNI_BIN="${N}/cni/bin" CRUN="${crun}" \
	"${N}/src/hack/install.sh" install >"${RES}/install.log" 2>&1; then
	say "FAIL ${variant}/install: hack/install.sh failed: $(tail -1 "${RES}/install.log")"
	exit 1
fi
systemctl daemon-reload
if ! timeout 600 systemctl enable --now berth.service >>"${RES}/install.log" 2>&1; then
	say "FAIL ${variant}/install: systemctl enable --now berth.service failed: $(journalctl -u berth.service -o cat --no-pager | tail -3 | tr '\n' ' ')"
	exit 1
fi
say "PASS ${variant}/install ($((SECONDS - t0))s: hack/install.sh, systemctl enable --now berth.service)"

# ---- the Go checks (test/node) ---------------------------------------------
export BERTH_TEST_NODE="${variant}" BERTH_NODE_DIR="${N}" BERTH_NODE_OVERLAY_AT_BOOT="${overlay_at_boot}"
export PATH="/usr/local/bin:${PATH}"
run_re="${checks:-.}"
[[ "${run_re}" == all ]] && run_re=.
cd /tmp
for c in $("${N}/bin/node.test" -test.list "${run_re}" | grep '^Test'); do say "PLAN ${variant}/${c#Test}"; done
# go test -v's top-level results become PASS/FAIL lines; a failure's reason
# is its first error line.
"${N}/bin/node.test" -test.v -test.timeout 90m -test.run "${run_re}" 2>&1 | tee "${RES}/node-test.log" |
	awk -v v="${variant}" '
	/^=== RUN   Test[^\/]*$/ { name = substr($3, 5); reason = "" }
	/^    [a-z_]+_test\.go:[0-9]+: / && reason == "" { reason = $0; sub(/^ +/, "", reason) }
	/^--- PASS: Test/ { print "PASS " v "/" substr($3, 5) " " $4; fflush() }
	/^--- FAIL: Test/ { print "FAIL " v "/" substr($3, 5) ": " reason; fflush() }
	/^--- SKIP: Test/ { print "FAIL " v "/" substr($3, 5) ": skipped: " reason; fflush() }
	/^panic: / { print "FAIL " v "/" name ": " $0; fflush() }' >&3

# ---- critest -----------------------------------------------------------------
# Where the host asked for it (berth.critest=yes) and put the specs to run
# (critest-focus, critest-crun-focus: ginkgo focus regexps).
# critest's AppArmor specs load their profile with `sudo apparmor_parser`;
# the node has no sudo, and critest runs as root already. (Not in /run:
# Go's LookPath asks access(X_OK), which a noexec mount refuses.)
mkdir -p /var/lib/critest-bin
printf '#!/bin/sh\nexec "$@"\n' >/var/lib/critest-bin/sudo
chmod 0755 /var/lib/critest-bin/sudo
# run_critest NAME FOCUS [critest flags]: one PASS or FAIL line NAME.
run_critest() {
	local name=$1 focus=$2 t0=${SECONDS}
	shift 2
	say "PLAN ${variant}/${name}"
	PATH="/var/lib/critest-bin:${PATH}" "${N}/bin/critest" --runtime-endpoint unix:///run/berth/berth.sock --image-endpoint unix:///run/berth/berth.sock \
		--ginkgo.no-color --ginkgo.succinct --ginkgo.focus "${focus}" \
		--ginkgo.json-report "${RES}/${name}.json" "$@" >"${RES}/${name}.log" 2>&1
	if "${N}/bin/critest-report" --report "${RES}/${name}.json" --expected "${N}/critest-expected-failures.txt" \
		>"${RES}/${name}-report.log" 2>&1; then
		say "PASS ${variant}/${name} ($((SECONDS - t0))s: $(grep -m1 -i 'passed' "${RES}/${name}-report.log"))"
	else
		say "FAIL ${variant}/${name}: $(grep -v '^ *$' "${RES}/${name}-report.log" | tail -3 | tr '\n' ' ')"
	fi
}
if [[ "${critest_on}" == yes ]]; then
	[[ -s "${N}/critest-focus" ]] && run_critest critest "$(cat "${N}/critest-focus")"
	[[ -s "${N}/critest-crun-focus" && "${crun}" == yes ]] &&
		run_critest critest-crun "$(cat "${N}/critest-crun-focus")" --runtime-handler crun
fi
