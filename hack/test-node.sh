#!/usr/bin/env bash
# test-node.sh is `make test-node`: Berth on a production-like node, a Debian
# VM with cgroup v2 and systemd as PID 1, booted with QEMU.
#
#  1. hack/test-node-image.sh builds (once; cached in _output/test-node by
#     its inputs) the Debian images: minimal (no apparmor package) and
#     apparmor (Debian's apparmor package).
#  2. A payload disk (ext4 made with mke2fs -d, nothing is mounted on this
#     machine) carries this build: berthd and the pinned stack, crictl,
#     critest, kubelet, etcd, kube-apiserver, kubectl, the test images
#     with berth-registry, hack/install.sh and deploy/, the checks
#     (test/node built with go test -c) and hack/test-node-vm.sh as run.sh.
#  3. Each variant boots from a throwaway qcow2 layer over its image; the
#     image's berth-node.service runs the payload, which prints results on
#     the second serial port, and powers off. This script prints them,
#     copies the VM's logs out of the payload disk (debugfs, no mount) into
#     _output/test-node/run-<variant>/, and ends with "N passed, M failed".
#
# The VM has no network device (-nic none): its registry is berth-registry
# on its own loopback. QEMU runs without KVM (TCG) here, about twenty times
# slower than the machine: a boot takes about 30 s.
#
# Environment: VARIANTS (default "minimal apparmor"); TEST_NODE_TIMEOUT,
# seconds per VM before it is killed (default 5400); MINIMAL_CHECKS, the
# checks (a go test -run regexp) the minimal image runs (the apparmor image
# runs all of them, kubelet's and a critest subset included); CRITEST_FOCUS,
# the critest specs the apparmor image runs (a ginkgo focus regexp; empty
# skips critest); CRITEST_CRUN_FOCUS, the critest specs it runs again under
# the crun runtime handler; VM_MEMORY (MiB, default 3072), VM_CPUS (default 2).
# SMOKE=yes is `make test-node-smoke`, the subset CI runs: the apparmor VM
# only, the checks in SMOKE_CHECKS and critest's smoke focus
# (test/node/critest-focus.txt), no kubelet.
# BENCH=yes is `make bench-node`: the apparmor VM runs no checks but
# hack/test-node-bench-vm.sh, berth-bench against berthd and containerd's
# CRI (systemd cgroup driver, cgroup v2) once per handler in BENCH_HANDLERS
# (default "runc crun"), with the berth-bench flags in BENCH_ARGS (default
# --iterations 10 --parallel 4 --burst 4 --exec-timeout 10); the
# tables come back in _output/test-node/bench-node/ (docs/benchmarks.md).
#
# Usage: hack/test-node.sh   (root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output/test-node"
BIN="${ROOT}/_output/bin"
CNI_BIN="${ROOT}/_output/cni/bin"
VARIANTS="${VARIANTS:-minimal apparmor}"
MINIMAL_CHECKS="${MINIMAL_CHECKS:-^Test(ServiceActive|OverlayLoaded|AppArmor|PodCgroupInSlice|CgroupNamespace)\$}"
focus_of() { sed -n "s/^$1: //p" "${ROOT}/test/node/critest-focus.txt"; }
SMOKE="${SMOKE:-no}"
SMOKE_CHECKS="${SMOKE_CHECKS:-^Test(ServiceActive|PodCgroupInSlice|Stats|CrunHandler)\$}"
if [[ "${SMOKE}" == yes ]]; then
	VARIANTS=apparmor
	TEST_NODE_TIMEOUT="${TEST_NODE_TIMEOUT:-2700}"
	CRITEST_FOCUS="${CRITEST_FOCUS-$(focus_of smoke)}"
	CRITEST_CRUN_FOCUS="${CRITEST_CRUN_FOCUS-}"
fi
BENCH="${BENCH:-no}"
if [[ "${BENCH}" == yes ]]; then
	VARIANTS=apparmor
	TEST_NODE_TIMEOUT="${TEST_NODE_TIMEOUT:-2700}"
fi
TEST_NODE_TIMEOUT="${TEST_NODE_TIMEOUT:-5400}"
CRITEST_FOCUS="${CRITEST_FOCUS-$(focus_of focus)}"
CRITEST_CRUN_FOCUS="${CRITEST_CRUN_FOCUS-$(focus_of crun)}"
VM_MEMORY="${VM_MEMORY:-3072}"
VM_CPUS="${VM_CPUS:-2}"

log() { printf 'test-node: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

[[ "$(id -u)" == 0 ]] || die "needs root (mmdebstrap, mke2fs -d of root-owned files)"
# What only the test node needs, installed here rather than by make deps
# (QEMU is large): a clean machine (CI) runs this with nothing else.
missing=()
for c in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mke2fs:e2fsprogs debugfs:e2fsprogs mmdebstrap:mmdebstrap; do
	command -v "${c%%:*}" >/dev/null || missing+=("${c#*:}")
done
if ((${#missing[@]} > 0)); then
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends \
			$(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
for b in berthd berth-pause containerd containerd-shim-runc-v2 runc crictl critest berth-registry; do
	[[ -x "${BIN}/${b}" ]] || die "${BIN}/${b} is missing: run make deps build images"
done
# Without kubelet (hack/kubelet.sh builds it) the Kubelet check fails.
[[ -x "${BIN}/kubelet" ]] || log "${BIN}/kubelet is missing: the Kubelet check will fail (hack/kubelet.sh builds it)"
# Without etcd, kube-apiserver and kubectl (hack/e2e-cluster-build.sh
# builds them) the RuntimeClass check fails.
for b in etcd kube-apiserver kubectl; do
	[[ -x "${BIN}/${b}" ]] || log "${BIN}/${b} is missing: the RuntimeClass check will fail (hack/e2e-cluster-build.sh builds it)"
done
[[ -f "${ROOT}/_output/images/layout/index.json" ]] || die "the test images are missing: run make images"

total_start=${SECONDS}
t0=${SECONDS}
IMAGE="$("${ROOT}/hack/test-node-image.sh" | tail -1)"
log "images ready in $((SECONDS - t0)) s: ${IMAGE}"

# ---- the payload ------------------------------------------------------------
RUN="$(mktemp -d "${OUT}/run-XXXXXX")"
QEMU_PID=""
cleanup() {
	local rc=$?
	if [[ -n "${QEMU_PID}" ]] && kill -0 "${QEMU_PID}" 2>/dev/null; then
		kill -TERM "${QEMU_PID}" 2>/dev/null
		wait "${QEMU_PID}" 2>/dev/null || true
	fi
	rm -rf "${RUN}"
	exit "${rc}"
}
trap cleanup EXIT

t0=${SECONDS}
STAGE="${RUN}/stage"
mkdir -p "${STAGE}/bin" "${STAGE}/cni/bin" "${STAGE}/images" "${STAGE}/src/hack" "${STAGE}/kubelet" "${STAGE}/results"
for b in berthd berth-pause containerd containerd-shim-runc-v2 runc crictl critest kubelet etcd kube-apiserver kubectl berth-registry; do
	[[ ! -e "${BIN}/${b}" ]] || cp -L "${BIN}/${b}" "${STAGE}/bin/"
done
cp -L "${CNI_BIN}"/* "${STAGE}/cni/bin/"
cp -rL "${ROOT}/_output/images/layout" "${STAGE}/images/layout"
cp "${ROOT}/hack/install.sh" "${STAGE}/src/hack/"
cp -r "${ROOT}/deploy" "${STAGE}/src/deploy"
cp "${ROOT}"/test/e2e/kubelet/*.yaml "${STAGE}/kubelet/"
cp "${ROOT}/hack/test-node-vm.sh" "${STAGE}/run.sh"
# What fails in critest on the build machine, and what fails only on the
# node (each with its reason).
cat "${ROOT}/test/critest/expected-failures.txt" "${ROOT}/test/node/critest-expected-failures.txt" \
	>"${STAGE}/critest-expected-failures.txt"
# An empty focus runs nothing (critest would take it as all specs).
[[ -z "${CRITEST_FOCUS}" ]] || printf '%s\n' "${CRITEST_FOCUS}" >"${STAGE}/critest-focus"
[[ -z "${CRITEST_CRUN_FOCUS}" ]] || printf '%s\n' "${CRITEST_CRUN_FOCUS}" >"${STAGE}/critest-crun-focus"
(cd "${ROOT}/test" && CGO_ENABLED=0 go test -c -o "${STAGE}/bin/node.test" ./node)
(cd "${ROOT}/test" && CGO_ENABLED=0 go build -o "${STAGE}/bin/critest-report" ./cmd/critest-report)
# bench_payload makes the payload run berth-bench in place of the checks.
bench_payload() {
	(cd "${ROOT}/test" && CGO_ENABLED=0 go build -o "${STAGE}/bin/berth-bench" ./cmd/berth-bench)
	cp "${ROOT}/hack/test-node-bench-vm.sh" "${STAGE}/run.sh"
	mkdir -p "${STAGE}/lib"
	cp "${ROOT}/hack/lib/bench-config.sh" "${STAGE}/lib/"
	printf 'BENCH_HANDLERS=%q\nBENCH_ARGS=%q\n' "${BENCH_HANDLERS:-runc crun}" "${BENCH_ARGS:---iterations 10 --parallel 4 --burst 4 --exec-timeout 10}" >"${STAGE}/bench.env"
}
[[ "${BENCH}" != yes ]] || bench_payload
size_mb=$(($(du -sm "${STAGE}" | cut -f1) + 512))
mke2fs -q -t ext4 -L berth-node -E root_owner=0:0 -d "${STAGE}" "${RUN}/payload.img" "${size_mb}M" >/dev/null
rm -rf "${STAGE}"
log "payload (${size_mb} MiB) made in $((SECONDS - t0)) s"

# ---- the VMs ------------------------------------------------------------------
PASSED=0
FAILED=0
declare -a FAILURES=()
report() {
	local line=$1
	case "${line}" in
	PASS\ *)
		PASSED=$((PASSED + 1))
		printf '%s\n' "${line}"
		;;
	FAIL\ *)
		FAILED=$((FAILED + 1))
		FAILURES+=("${line}")
		printf '%s\n' "${line}"
		;;
	esac
}

# boot VARIANT CHECKS CRITEST runs one VM to its end and reports its
# results: CHECKS is a go test -run regexp of test/node (all: every one),
# CRITEST yes runs the critest subsets after them.
boot() {
	local variant=$1 checks=$2 critest=$3
	local dir="${OUT}/run-${variant}" disk="${RUN}/${variant}.qcow2" payload="${RUN}/payload-${variant}.img"
	local results="${RUN}/results-${variant}.txt" start=${SECONDS} done=no line seen=0
	local -A planned=()
	rm -rf "${dir}"
	mkdir -p "${dir}"
	qemu-img create -q -f qcow2 -F raw -b "${IMAGE}/${variant}.img" "${disk}"
	cp --sparse=always "${RUN}/payload.img" "${payload}"
	: >"${results}"
	# The kernel's console (and systemd's) to console.log; results on ttyS1.
	qemu-system-x86_64 -accel tcg -cpu max -smp "${VM_CPUS}" -m "${VM_MEMORY}" \
		-display none -monitor none -no-reboot -nic none \
		-kernel "${IMAGE}/vmlinuz" -initrd "${IMAGE}/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 panic=-1 berth.variant=${variant} berth.checks=${checks} berth.critest=${critest}" \
		-drive "file=${disk},if=virtio,format=qcow2,cache=unsafe" \
		-drive "file=${payload},if=virtio,format=raw,cache=unsafe" \
		-serial "file:${dir}/console.log" -serial "file:${results}" &
	QEMU_PID=$!
	log "${variant}: VM started (qemu pid ${QEMU_PID}); console: ${dir}/console.log"
	while :; do
		local alive=yes
		kill -0 "${QEMU_PID}" 2>/dev/null || alive=no
		# New whole lines of the results port.
		local n
		n=$(wc -l <"${results}")
		while IFS= read -r line; do
			line="${line%$'\r'}"
			case "${line}" in
			PLAN\ *) planned["${line#PLAN }"]=1 ;;
			PASS\ * | FAIL\ *)
				local name="${line#* }"
				name="${name%%[: ]*}"
				unset "planned[${name}]"
				report "${line}"
				;;
			INFO\ *) log "${line#INFO }" ;;
			DONE) done=yes ;;
			esac
		done < <(((n > seen)) && sed -n "$((seen + 1)),${n}p" "${results}" | tr -d '\000')
		seen=${n}
		[[ "${alive}" == yes ]] || break
		if ((SECONDS - start > TEST_NODE_TIMEOUT)); then
			report "FAIL ${variant}/vm: no end after ${TEST_NODE_TIMEOUT} s; VM killed"
			kill -TERM "${QEMU_PID}" 2>/dev/null
		fi
		sleep 2
	done
	wait "${QEMU_PID}" 2>/dev/null || true
	QEMU_PID=""
	local name
	for name in "${!planned[@]}"; do report "FAIL ${name}: no result (the VM stopped before it reported)"; done
	[[ "${done}" == yes ]] || report "FAIL ${variant}/vm: the payload did not finish (see ${dir}/console.log)"
	# The VM's logs, out of its payload disk without mounting it.
	debugfs -R "rdump /results ${dir}" "${payload}" >/dev/null 2>&1 || log "${variant}: no results dir on the payload disk"
	cp "${results}" "${dir}/results.txt"
	rm -f "${disk}" "${payload}"
	log "${variant}: VM ran $((SECONDS - start)) s; logs in ${dir}"
}

# bench_results keeps the VM's berth-bench tables and prints them.
bench_results() {
	local from="${OUT}/run-apparmor/results" to="${OUT}/bench-node" h
	rm -rf "${to}" && mkdir -p "${to}"
	for h in ${BENCH_HANDLERS:-runc crun}; do
		[[ -s "${from}/bench-${h}.md" ]] || continue
		cp "${from}/bench-${h}.md" "${to}/"
		printf '\nberth-bench --runtime-handler %s on the VM (cgroup v2, systemd):\n' "${h}"
		cat "${to}/bench-${h}.md"
	done
}

for v in ${VARIANTS}; do
	case "${v}" in
	minimal) boot minimal "${MINIMAL_CHECKS}" no ;;
	apparmor)
		if [[ "${BENCH}" == yes ]]; then
			boot apparmor bench no
			bench_results
		elif [[ "${SMOKE}" == yes ]]; then boot apparmor "${SMOKE_CHECKS}" yes; else boot apparmor all yes; fi
		;;
	*) die "unknown variant ${v}" ;;
	esac
done

log "total $((SECONDS - total_start)) s"
if ((FAILED > 0)); then
	printf 'failed:\n'
	printf '  %s\n' "${FAILURES[@]}"
fi
printf '%d passed, %d failed\n' "${PASSED}" "${FAILED}"
((FAILED == 0))
