#!/usr/bin/env bash
# e2e-cluster.sh runs a one-node Kubernetes cluster on this machine from
# host processes, with Berth as the node's runtime, and checks what a
# cluster user sees of it through kubectl. Every binary is built from the Go
# module proxy (hack/kubelet.sh, hack/e2e-cluster-build.sh; KUBERNETES_VERSION
# in hack/versions.env); the PKI is made with openssl at run time; etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, berthd
# and the loopback image registry all listen on 127.0.0.1 only, on ports
# picked free at start, so the run does not collide with another.
#
# Berth is brought up as an operator would: hack/install.sh (make install)
# writes the node's files into a staging root (DESTDIR) and berthd runs with
# the ExecStart line of the installed berth.service, its paths under that
# root (this machine has no systemd). The node is named 127.0.0.1, as in
# upstream's hack/local-up-cluster.sh: kubelet refuses a loopback --node-ip,
# but takes a node name that is an IP as the node's InternalIP, which is
# where the API server then reaches kubelet for exec, logs and port-forward.
#
# kubelet runs with the cgroupfs driver, failCgroupV1: false and empty
# systemCgroups and kubeletCgroups: it must not move any process it did not
# start, and the run checks that /proc/1/cgroup and its own cgroups are
# unchanged. Everything is stopped by PID and cleaned up: pods through the
# API (namespace deletion), then kubelet's cgroups, mounts and sysctls, the
# etcd data, CNI state and bridge, kubelet's iptables chains.
#
# With UPSTREAM=true (make e2e-cluster-upstream) a last check runs
# Kubernetes' own conformance specs against the cluster:
# hack/e2e-cluster-upstream.sh runs e2e.test on the spec groups of
# test/e2e/upstream/focus.txt and holds the result against
# test/e2e/upstream/expected-failures.txt. The loopback registry then also
# serves the images those specs run (hack/e2e-node-images.sh).
#
# QUICK=true (make e2e-cluster-quick, part of make test) stops after the
# first three checks, the node's.
#
# Output: one PASS or FAIL line a check, then "N passed, M failed"; exits
# non-zero on any failure. Logs of every daemon land in KEEP_LOGS_DIR
# (default _output/e2e-cluster), the upstream run's reports in its
# upstream/ directory.
#
# Usage: hack/e2e-cluster.sh   (`make e2e-cluster` runs it; root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
CNI_BIN="${ROOT}/_output/cni/bin"
MANIFESTS="${ROOT}/test/e2e/cluster"
LOGS="${KEEP_LOGS_DIR:-${ROOT}/_output/e2e-cluster}"
NODE=127.0.0.1
NS=berth-e2e
BRIDGE=berthc0
SUBNET=10.98.0.0/16
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
# UPGRADE=false leaves out the DaemonSet upgrade (and the installer image).
UPGRADE="${UPGRADE:-true}"
[[ "${UPGRADE}" == true || "${UPGRADE}" == false ]] || { echo "UPGRADE must be true or false" >&2; exit 1; }
# UPSTREAM=true adds the upstream e2e.test specs, last.
UPSTREAM="${UPSTREAM:-false}"
[[ "${UPSTREAM}" == true || "${UPSTREAM}" == false ]] || { echo "UPSTREAM must be true or false" >&2; exit 1; }
# QUICK=true stops after the first three checks (the node: Ready, its
# runtime, its images), what make test runs; it implies UPGRADE=false and
# UPSTREAM=false.
QUICK="${QUICK:-false}"
[[ "${QUICK}" == true || "${QUICK}" == false ]] || { echo "QUICK must be true or false" >&2; exit 1; }
if [[ "${QUICK}" == true ]]; then UPGRADE=false UPSTREAM=false; fi
T0=${SECONDS}

LOG_PREFIX=e2e-cluster
# shellcheck source=hack/lib/kubelet-host.sh
source "${ROOT}/hack/lib/kubelet-host.sh"
# Its own log and die, after the library's: to stderr.
log() { printf 'e2e-cluster: %s\n' "$*" >&2; }
die() {
	printf 'e2e-cluster: %s\n' "$*" >&2
	exit 1
}

[[ "$(id -u)" == 0 ]] || die "needs root"
for b in berthd berth-pause berth-registry crictl containerd runc; do
	[[ -x "${BIN}/${b}" ]] || die "${BIN}/${b} is missing: run make deps build images"
done
for c in jq curl openssl script iptables-save python3; do command -v "${c}" >/dev/null || die "${c} is missing"; done
"${ROOT}/hack/kubelet.sh" >&2
"${ROOT}/hack/e2e-cluster-build.sh" >&2
(cd "${ROOT}/test" && CGO_ENABLED=0 go build -trimpath -o "${BIN}/berth-criloop" ./cmd/berth-criloop) ||
	die "cannot build test/cmd/berth-criloop"
LAYOUTS="${ROOT}/_output/images/layout"
if [[ "${UPSTREAM}" == true ]]; then
	"${ROOT}/hack/e2e-cluster-upstream-build.sh" >&2
	"${ROOT}/hack/e2e-node-images.sh" >&2
	LAYOUTS+=",${ROOT}/_output/e2e-node/images/layout"
fi
# The version of the berthd the installer image carries: its own, so the
# upgrade shows.
INSTALLER_VERSION="${INSTALLER_VERSION:-$("${BIN}/berthd" --version | awk 'NR == 1 {print $2}')-installer}"
log "binaries ready after $((SECONDS - T0)) s"

# Short and under /run: containerd's shim socket dir must fit in 38 characters.
WORK="$(mktemp -d /run/bc-XXXXXX)"
H="${WORK}/host"    # the node's filesystem as make install and the installer see it
PKI="${WORK}/pki"
KROOT="${WORK}/kubelet"
STATE="${WORK}/st"
# In berthd's state dir, where the installer looks for it (BERTH_RUN_DIR).
SOCK="${STATE}/berth.sock"
declare -A PIDS=()  # name -> pid of every daemon this script started
KUBECTL=("${BIN}/kubectl" --kubeconfig "${WORK}/admin.kubeconfig")
kc() { "${KUBECTL[@]}" "$@"; }

# ---- host state the run must leave as it found it --------------------------
CGROUP_PID1_BEFORE="$(cat /proc/1/cgroup)"
CGROUP_SELF_BEFORE="$(cat /proc/$$/cgroup)"
host_lock
host_record /var/lib/kubelet /var/log/containers /var/log/pods
# kubelet's cgroupRoot, of this run alone: another kubelet on the machine
# (make e2e-kubelet, e2e-node) owns /kubepods, and each kubelet removes the
# pod cgroups it does not know below its root, processes and all.
CGROOT="/$(basename "${WORK}")"
CGROUP_ROOTS=()
for h in /sys/fs/cgroup/*/; do
	h="${h%/}"
	CGROUP_ROOTS+=("${h}")
done

# ---- results -----------------------------------------------------------------
PASSED=0
FAILED=0
pass() {
	PASSED=$((PASSED + 1))
	printf 'PASS  %s\n' "$*"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL  %s\n' "$*"
}
# check NAME COMMAND...: PASS when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "${name}"; else fail "${name}"; fi
}
stop() { # stop NAME: the daemon this script started under that name
	[[ -n "${PIDS[$1]:-}" ]] || return 0
	stop_pid "${PIDS[$1]}" 15
	unset "PIDS[$1]"
}
no_pods_in_ns() {
	local out
	out="$(kc get pods -n "${NS}" -o name 2>/dev/null)" || return 1
	[[ -z "${out}" ]]
}

cleanup() {
	local rc=$?
	set +e
	log "cleaning up"
	# Pods first, through the API, while kubelet and berthd still run.
	if [[ -n "${PIDS[kubelet]:-}" && -n "${PIDS[apiserver]:-}" ]]; then
		kc delete namespace "${NS}" --wait=false >/dev/null 2>&1
		wait_for 90 no_pods_in_ns || log "cleanup: pods of ${NS} still listed after 90 s"
		wait_for 60 no_ready_sandboxes || log "cleanup: sandboxes still ready 60 s after the pods went"
	fi
	stop kubelet
	if [[ -n "${PIDS[berthd]:-}" ]] && ! no_sandboxes; then
		log "cleanup: removing $(crictl pods -q | wc -l) sandboxes kubelet left"
		crictl pods -q | while read -r id; do crictl stopp "${id}" >/dev/null 2>&1; crictl rmp -f "${id}" >/dev/null 2>&1; done
	fi
	stop berthd
	for n in scheduler controller-manager apiserver etcd registry; do stop "${n}"; done
	for n in "${!PIDS[@]}"; do stop "${n}"; done
	mkdir -p "${LOGS}"
	cp "${WORK}"/*.log "${LOGS}/" 2>/dev/null
	cp "${WORK}/root/containerd.log" "${LOGS}/" 2>/dev/null
	host_unmount "${WORK}"
	host_restore_sysctls
	for h in "${CGROUP_ROOTS[@]}"; do rmdir_tree "${h}${CGROOT}"; done
	[[ -d /var/log/containers ]] && find /var/log/containers -maxdepth 1 -type l -lname "${WORK}/*" -delete
	for p in /var/lib/kubelet /var/log/containers /var/log/pods; do
		[[ -n "${EXISTED[${p}]:-}" ]] && continue
		if [[ "${p}" == /var/lib/kubelet ]]; then rm -rf "${p}"; else rmdir "${p}" 2>/dev/null; fi
	done
	host_remove_kube_chains
	ip link del "${BRIDGE}" 2>/dev/null
	rm -rf "${WORK}"
	[[ "$(cat /proc/1/cgroup)" == "${CGROUP_PID1_BEFORE}" ]] || log "cleanup: /proc/1/cgroup differs from before the run"
	exit "${rc}"
}
trap cleanup EXIT

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r ETCD_PORT PEER_PORT API_PORT KCM_PORT SCHED_PORT KUBELET_PORT KUBELET_HZ <<<"$(free_ports 7)"
API="https://127.0.0.1:${API_PORT}"
mkdir -p "${PKI}" "${KROOT}" "${LOGS}" "${WORK}/hosts" "${H}/etc/cni/net.d"
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "${SOCK}" "${SOCK}" >"${WORK}/crictl.yaml"

# start NAME COMMAND...: runs a daemon in the background, its output in NAME.log.
start() {
	local name=$1
	shift
	"$@" >"${WORK}/${name}.log" 2>&1 &
	PIDS[${name}]=$!
}
# alive NAME: dies with the tail of its log when the daemon has exited.
alive() {
	kill -0 "${PIDS[$1]}" 2>/dev/null || die "$1 exited: $(tail -15 "${WORK}/$1.log")"
}

# ---- PKI: a CA, the API server's serving cert, the service account keys ------
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=berth-e2e-ca" \
	-keyout "${PKI}/ca.key" -out "${PKI}/ca.crt"
openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
	-keyout "${PKI}/apiserver.key" -out "${PKI}/apiserver.csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >"${PKI}/san.ext"
openssl_quiet x509 -req -in "${PKI}/apiserver.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" -CAcreateserial \
	-days 2 -extfile "${PKI}/san.ext" -out "${PKI}/apiserver.crt"
openssl_quiet genrsa -out "${PKI}/sa.key" 2048
openssl_quiet rsa -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub"
openssl verify -CAfile "${PKI}/ca.crt" "${PKI}/apiserver.crt" >/dev/null || die "the API server certificate does not verify"

# One bearer token per client. kubelet is a node (Node authorizer, group
# system:nodes); the others are cluster admins.
: >"${PKI}/tokens.csv"
declare -A TOKENS=()
for who in admin kubelet controller-manager scheduler; do
	TOKENS[${who}]="$(openssl rand -hex 16)"
done
{
	printf '%s,admin,admin,system:masters\n' "${TOKENS[admin]}"
	printf '%s,system:node:%s,kubelet,system:nodes\n' "${TOKENS[kubelet]}" "${NODE}"
	printf '%s,system:kube-controller-manager,kcm\n' "${TOKENS[controller-manager]}"
	printf '%s,system:kube-scheduler,scheduler\n' "${TOKENS[scheduler]}"
} >"${PKI}/tokens.csv"
chmod 0600 "${PKI}"/*.key "${PKI}/tokens.csv"
kubeconfig() { # kubeconfig WHO
	cat >"${WORK}/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "${API}", certificate-authority: "${PKI}/ca.crt"}
users:
- name: $1
  user: {token: "${TOKENS[$1]}"}
contexts:
- name: e2e
  context: {cluster: e2e, user: $1}
current-context: e2e
EOF
}
for who in "${!TOKENS[@]}"; do kubeconfig "${who}"; done

# ---- control plane -------------------------------------------------------------
start etcd "${BIN}/etcd" --name e2e --data-dir "${WORK}/etcd" --unsafe-no-fsync \
	--listen-client-urls "http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
	--listen-peer-urls "http://127.0.0.1:${PEER_PORT}" --initial-advertise-peer-urls "http://127.0.0.1:${PEER_PORT}" \
	--initial-cluster "e2e=http://127.0.0.1:${PEER_PORT}"
etcd_healthy() { alive etcd; curl -fsS "http://127.0.0.1:${ETCD_PORT}/health" 2>/dev/null | grep -q '"health":"true"'; }
wait_for 60 etcd_healthy || die "etcd not healthy within 60 s"

# No kube-proxy: nothing here reaches a Service IP. The endpoint reconciler
# is off because the only address it could publish is loopback, which
# EndpointSlices refuse.
start apiserver "${BIN}/kube-apiserver" --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${API_PORT}" \
	--cert-dir "${WORK}/apiserver" --tls-cert-file "${PKI}/apiserver.crt" --tls-private-key-file "${PKI}/apiserver.key" \
	--client-ca-file "${PKI}/ca.crt" --token-auth-file "${PKI}/tokens.csv" \
	--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
	--service-account-issuer https://kubernetes.default.svc --service-account-key-file "${PKI}/sa.pub" \
	--service-account-signing-key-file "${PKI}/sa.key" --service-cluster-ip-range 10.0.0.0/24 \
	--endpoint-reconciler-type none --allow-privileged=true --kubelet-preferred-address-types InternalIP \
	--profiling=false
api_ready() { alive apiserver; [[ "$(kc get --raw /readyz 2>/dev/null)" == ok ]]; }
wait_for 120 api_ready || die "kube-apiserver not ready within 120 s"
log "kube-apiserver ready on ${API} after $((SECONDS - T0)) s"

start controller-manager "${BIN}/kube-controller-manager" --kubeconfig "${WORK}/controller-manager.kubeconfig" \
	--authentication-kubeconfig "${WORK}/controller-manager.kubeconfig" --authorization-kubeconfig "${WORK}/controller-manager.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port "${KCM_PORT}" --leader-elect=false \
	--root-ca-file "${PKI}/ca.crt" --service-account-private-key-file "${PKI}/sa.key" \
	--use-service-account-credentials=true --cluster-signing-cert-file "${PKI}/ca.crt" --cluster-signing-key-file "${PKI}/ca.key"
start scheduler "${BIN}/kube-scheduler" --kubeconfig "${WORK}/scheduler.kubeconfig" \
	--authentication-kubeconfig "${WORK}/scheduler.kubeconfig" --authorization-kubeconfig "${WORK}/scheduler.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port "${SCHED_PORT}" --leader-elect=false
healthz() { curl -fsSk "https://127.0.0.1:$1/healthz" 2>/dev/null | grep -qx ok; }
kcm_healthy() { alive controller-manager; healthz "${KCM_PORT}"; }
sched_healthy() { alive scheduler; healthz "${SCHED_PORT}"; }
wait_for 120 kcm_healthy || die "kube-controller-manager not healthy within 120 s"
wait_for 60 sched_healthy || die "kube-scheduler not healthy within 60 s"
log "controller-manager and scheduler healthy after $((SECONDS - T0)) s"

# ---- Berth, as make install puts it on the node ------------------------------------
start registry "${BIN}/berth-registry" --layout "${LAYOUTS}" --addr 127.0.0.1:0 \
	--addr-file "${WORK}/registry.addr" --hosts-dir "${WORK}/hosts" --quiet
registry_up() { alive registry; [[ -s "${WORK}/registry.addr" ]]; }
wait_for 30 registry_up || die "the registry did not start"
REGISTRY="$(<"${WORK}/registry.addr")"
if [[ "${UPGRADE}" == true ]]; then
	# The installer image, pushed where docker.io/library/... is pulled from.
	t=${SECONDS}
	"${ROOT}/hack/installer-image.sh" "${REGISTRY}" "${INSTALLER_VERSION}" >"${WORK}/installer-image.log" 2>&1 ||
		die "building the installer image failed: $(tail -5 "${WORK}/installer-image.log")"
	log "installer image $(tail -1 "${WORK}/installer-image.log") pushed in $((SECONDS - t)) s"
fi

# The node's network config, there before the install, so make install keeps it.
cat >"${H}/etc/cni/net.d/10-e2e.conflist" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "berth-e2e-cluster",
  "plugins": [
    {"type": "bridge", "bridge": "${BRIDGE}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "${SUBNET}"}]], "dataDir": "${WORK}/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}
CONF
# berthd's config: the defaults, with every path moved under the run's dirs.
cat >"${WORK}/config.toml" <<CONF
root = '${WORK}/root'
state = '${STATE}'
socket = '${SOCK}'
log_level = 'debug'
cgroup_driver = 'cgroupfs'

[cni]
conf_dir = '${H}/etc/cni/net.d'
bin_dirs = ['${H}/opt/cni/bin']

[image]
registry_config_dir = '${WORK}/hosts'

[security]
seccomp_profile_root = '${KROOT}/seccomp'
CONF
DESTDIR="${H}" PREFIX=/usr/local CNI_CONF_DIR=/etc/cni/net.d BERTH_CONFIG="${WORK}/config.toml" CRICTL_YAML=no \
	SRC_BIN="${BIN}" SRC_CNI_BIN="${CNI_BIN}" "${ROOT}/hack/install.sh" install >"${WORK}/install.log" ||
	die "make install failed: $(tail -5 "${WORK}/install.log")"
# The unit's command line, every absolute path in it under the staging root.
exec_start="$(sed -n 's/^ExecStart=//p' "${H}/usr/local/lib/systemd/system/berth.service")"
[[ -n "${exec_start}" ]] || die "no ExecStart in the installed berth.service"
read -r -a berthd_cmd <<<"$(sed -E "s#(^| )/#\1${H}/#g" <<<"${exec_start}")"
log "berthd: ${berthd_cmd[*]}"
start berthd "${berthd_cmd[@]}"
berthd_ready() { alive berthd; crictl imagefsinfo >/dev/null 2>&1; }
wait_for 60 berthd_ready || die "berthd did not serve within 60 s"
BERTH_VERSION="$(crictl version | awk '/RuntimeVersion/ {print $2}')"
log "berthd ${BERTH_VERSION} on ${SOCK}, registry on ${REGISTRY}"

# ---- kubelet -----------------------------------------------------------------------
for h in "${CGROUP_ROOTS[@]}"; do
	mkdir "${h}${CGROOT}"
	# A new cpuset is empty: nothing could run in it.
	if [[ -f "${h}/cpuset.cpus" ]]; then
		cat "${h}/cpuset.cpus" >"${h}${CGROOT}/cpuset.cpus"
		cat "${h}/cpuset.mems" >"${h}${CGROOT}/cpuset.mems"
	fi
done
cat >"${WORK}/kubelet.yaml" <<CONF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${SOCK}
imageServiceEndpoint: unix://${SOCK}
podLogsDir: ${WORK}/pods
volumePluginDir: ${KROOT}/volume-plugins
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: true
cgroupRoot: ${CGROOT}
enforceNodeAllocatable: [pods]
# Empty: kubelet moves no process it did not start into a cgroup of its own.
systemCgroups: ""
kubeletCgroups: ""
failSwapOn: false
oomScoreAdj: 0
address: 127.0.0.1
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${KUBELET_HZ}
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
syncFrequency: 10s
crashLoopBackOff: {maxContainerRestartPeriod: 10s}
serializeImagePulls: false
maxPods: 110
CONF
start kubelet "${BIN}/kubelet" --config "${WORK}/kubelet.yaml" --kubeconfig "${WORK}/kubelet.kubeconfig" \
	--root-dir "${KROOT}" --cert-dir "${KROOT}/pki" --hostname-override "${NODE}" --system-cgroups= --v=2
node_ready() {
	alive kubelet
	kc get node "${NODE}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}
t=${SECONDS}
if wait_for 120 node_ready; then
	pass "node ${NODE} registered and Ready ($((SECONDS - t)) s after kubelet started)"
else
	fail "node ${NODE} not Ready within 120 s"
	die "no node: $(tail -20 "${WORK}/kubelet.log")"
fi
runtime_col="$(kc get node "${NODE}" -o wide --no-headers | awk '{print $NF}')"
check "kubectl get node -o wide shows the runtime berth://${BERTH_VERSION} (got ${runtime_col})" \
	test "${runtime_col}" == "berth://${BERTH_VERSION}"
pause_listed() { kc get node "${NODE}" -o json | jq -e --arg p "${PAUSE_IMAGE}" '[.status.images[].names[]] | index($p) != null' >/dev/null; }
check "node images list the pause image ${PAUSE_IMAGE}" wait_for 30 pause_listed
if [[ "${QUICK}" == true ]]; then
	printf '%d passed, %d failed (%d s; QUICK=true: the node checks only)\n' "${PASSED}" "${FAILED}" "$((SECONDS - T0))"
	((FAILED == 0))
	exit
fi

kc apply -f "${MANIFESTS}/00-namespace.yaml" >/dev/null
sa_ready() { kc get serviceaccount default -n "${NS}" >/dev/null 2>&1 && kc get configmap kube-root-ca.crt -n "${NS}" >/dev/null 2>&1; }
wait_for 60 sa_ready || die "namespace ${NS} has no default service account or kube-root-ca.crt after 60 s"

# ---- a Deployment: 10 -> 30 -> 0 -------------------------------------------------
running_ready() { # running_ready N: exactly N web pods, all Running and Ready
	kc get pods -n "${NS}" -l app=web -o json 2>/dev/null | jq -e --argjson n "$1" '
		.items | length == $n and all(.[]; .status.phase == "Running"
			and any(.status.conditions[]?; .type == "Ready" and .status == "True"))' >/dev/null
}
kc apply -f "${MANIFESTS}/10-deployment.yaml" >/dev/null
t=${SECONDS}
if kc rollout status -n "${NS}" deployment/web --timeout=180s >/dev/null && running_ready 10; then
	pass "Deployment web rolled out 10 replicas of the nginx stand-in in $((SECONDS - t)) s"
else
	fail "Deployment web did not roll out 10 replicas in 180 s"
fi
t=${SECONDS}
kc scale -n "${NS}" deployment/web --replicas=30 >/dev/null
if kc rollout status -n "${NS}" deployment/web --timeout=300s >/dev/null && wait_for 30 running_ready 30; then
	pass "scaled to 30: every pod Running and Ready in $((SECONDS - t)) s"
else
	fail "scaled to 30: not every pod Running and Ready in 300 s ($(kc get pods -n "${NS}" -l app=web --no-headers | awk '{print $3}' | sort | uniq -c | tr '\n' ' '))"
fi
kc get pods -n "${NS}" -l app=web -o wide >"${WORK}/pods-wide.txt"
# The IP column of -o wide (RESTARTS may take several words: match the IP).
pod_ips() { awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i ~ /^10\.98\.[0-9]+\.[0-9]+$/) { print $i; break } }' "${WORK}/pods-wide.txt"; }
ips_ok() {
	# The IP column of -o wide, each from the CNI subnet and distinct.
	pod_ips | sort -u | wc -l | grep -qx 30
}
check "kubectl get pods -o wide: 30 distinct pod IPs from ${SUBNET}" ips_ok
mapfile -t IPS < <(pod_ips)
mapfile -t WEBPODS < <(awk 'NR > 1 {print $1}' "${WORK}/pods-wide.txt")
# Pod to pod: from three pods, every pod's IP answers with the nginx page.
reach() {
	local from=$1 out
	# busybox nc: Debian's busybox wget crashes on -T, and waits forever without it.
	out="$(kc exec -n "${NS}" "${from}" -- sh -c 'n=0; for ip in "$@"; do printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 "$ip" 80 | grep -q "Welcome to nginx!" && n=$((n+1)); done; echo $n' sh "${IPS[@]}" 2>&1)"
	[[ "${out}" == "${#IPS[@]}" ]] || { log "from ${from}: ${out} of ${#IPS[@]} pods answered"; return 1; }
}
if reach "${WEBPODS[0]}" && reach "${WEBPODS[14]}" && reach "${WEBPODS[29]}"; then
	pass "pods reach each other by IP (3 pods x ${#IPS[@]} IPs, HTTP)"
else
	fail "pods do not all reach each other by IP"
fi
t=${SECONDS}
kc scale -n "${NS}" deployment/web --replicas=0 >/dev/null
web_gone() { [[ -z "$(kc get pods -n "${NS}" -l app=web -o name 2>/dev/null)" ]]; }
if wait_for 120 web_gone; then
	pass "scaled to 0: every web pod gone in $((SECONDS - t)) s"
else
	fail "scaled to 0: $(kc get pods -n "${NS}" -l app=web --no-headers | wc -l) web pods left after 120 s"
fi

# ---- streaming through the API server ------------------------------------------------
kc apply -f "${MANIFESTS}/20-streaming.yaml" >/dev/null
kc wait -n "${NS}" --for=condition=Ready pod/shell pod/echo pod/ticker --timeout=120s >/dev/null ||
	fail "streaming pods not Ready in 120 s"
out="$(kc exec -n "${NS}" shell -- sh -c 'echo out-line; echo err-line >&2; exit 3' 2>"${WORK}/exec.err")" && rc=0 || rc=$?
if [[ "${out}" == out-line && "$(grep -c err-line "${WORK}/exec.err")" == 1 && "${rc}" == 3 ]]; then
	pass "kubectl exec: stdout, stderr apart, exit code 3 returned"
else
	fail "kubectl exec: stdout '${out}', exit ${rc}, stderr '$(head -c 200 "${WORK}/exec.err")'"
fi
# -it through a pty: script(1) gives kubectl a terminal; the remote shell
# gets one too (tty names it; test -t says stdin is a terminal).
printf -v it_cmd '%q ' "${KUBECTL[@]}" exec -it -n "${NS}" shell -- sh -c 'tty; test -t 0 && echo stdin-is-a-terminal'
script -qec "${it_cmd}" /dev/null </dev/null >"${WORK}/exec-it.out" 2>&1 || true
if grep -qE '/dev/pts/[0-9]+' "${WORK}/exec-it.out" && grep -q stdin-is-a-terminal "${WORK}/exec-it.out"; then
	pass "kubectl exec -it (through a pty): the container's stdin is a terminal ($(grep -oE '/dev/pts/[0-9]+' "${WORK}/exec-it.out"))"
else
	fail "kubectl exec -it: $(tr -cd '[:print:]\n' <"${WORK}/exec-it.out" | head -c 300)"
fi
printf 'hello-attach\n' | timeout 15 "${KUBECTL[@]}" attach -i -n "${NS}" echo >"${WORK}/attach.out" 2>&1 || true
attached() { kc logs -n "${NS}" echo | grep -qx 'got:hello-attach'; }
if grep -q 'got:hello-attach' "${WORK}/attach.out" && wait_for 10 attached; then
	pass "kubectl attach -i: stdin reaches the container, its output comes back"
else
	fail "kubectl attach -i: got '$(head -c 200 "${WORK}/attach.out")'"
fi
timeout 5 "${KUBECTL[@]}" logs -f --tail=1 -n "${NS}" ticker >"${WORK}/follow.txt" 2>&1 || true
ticks="$(grep -cE '^tick [0-9]+$' "${WORK}/follow.txt" || true)"
if ((ticks >= 3)); then
	pass "kubectl logs -f: new lines stream as written (${ticks} ticks in 5 s from --tail=1)"
else
	fail "kubectl logs -f: ${ticks} ticks in 5 s ($(head -c 200 "${WORK}/follow.txt"))"
fi
# crasher's first run prints "run 1" and exits 1; the second stays up.
crashed() {
	kc get pod -n "${NS}" crasher -o json 2>/dev/null | jq -e '.status.containerStatuses[0]
		| .restartCount == 1 and .state.running != null and .lastState.terminated.exitCode == 1' >/dev/null
}
if wait_for 60 crashed; then
	prev="$(kc logs --previous -n "${NS}" crasher 2>&1 || true)"
	cur="$(kc logs -n "${NS}" crasher 2>&1 || true)"
	if [[ "${prev}" == "run 1" && "${cur}" == "run 2" ]]; then
		pass "kubectl logs --previous after a crash: the crashed run's output ('${prev}'; now '${cur}')"
	else
		fail "kubectl logs --previous: '$(head -c 200 <<<"${prev}")', current '$(head -c 100 <<<"${cur}")'"
	fi
else
	fail "crasher did not restart once (exit 1) and run within 60 s"
fi
# port-forward to a web pod: scale back to one.
kc scale -n "${NS}" deployment/web --replicas=1 >/dev/null
kc rollout status -n "${NS}" deployment/web --timeout=120s >/dev/null || true
"${KUBECTL[@]}" port-forward -n "${NS}" deployment/web 0:80 >"${WORK}/port-forward.log" 2>&1 &
PIDS[port-forward]=$!
pf_port() { sed -nE 's/^Forwarding from 127\.0\.0\.1:([0-9]+) -> 80$/\1/p' "${WORK}/port-forward.log" | head -1; }
pf_up() { [[ -n "$(pf_port)" ]]; }
if wait_for 30 pf_up && curl -fsS --max-time 5 "http://127.0.0.1:$(pf_port)/" | grep -q 'Welcome to nginx!'; then
	pass "kubectl port-forward: 127.0.0.1:$(pf_port) answers with the pod's nginx page"
else
	fail "kubectl port-forward: $(head -c 300 "${WORK}/port-forward.log")"
fi
stop port-forward
head -c 4096 /dev/urandom | base64 >"${WORK}/cp-in.txt"
if kc cp "${WORK}/cp-in.txt" "${NS}/shell:/tmp/cp-in.txt" >/dev/null 2>&1 &&
	cmp -s "${WORK}/cp-in.txt" <(kc exec -n "${NS}" shell -- cat /tmp/cp-in.txt); then
	pass "kubectl cp into the pod: content intact"
else
	fail "kubectl cp into the pod"
fi
kc exec -n "${NS}" shell -- sh -c 'i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done >/tmp/cp-out.txt' || true
if kc cp "${NS}/shell:/tmp/cp-out.txt" "${WORK}/cp-out.txt" >/dev/null 2>&1 &&
	[[ "$(wc -l <"${WORK}/cp-out.txt")" == 200 && "$(tail -1 "${WORK}/cp-out.txt")" == line-199 ]]; then
	pass "kubectl cp out of the pod: content intact"
else
	fail "kubectl cp out of the pod"
fi

# ---- status kubelet reports back --------------------------------------------------------
kc apply -f "${MANIFESTS}/30-status.yaml" >/dev/null
live_restarted() {
	kc get pod -n "${NS}" liveness -o json | jq -e '.status.containerStatuses[0]
		| .restartCount >= 1 and (.lastState.terminated.exitCode != null) and (.lastState.terminated.finishedAt != null)' >/dev/null
}
if wait_for 90 live_restarted; then
	pass "failing liveness probe: restarted, restartCount $(kc get pod -n "${NS}" liveness -o jsonpath='{.status.containerStatuses[0].restartCount}'), lastState.terminated exit $(kc get pod -n "${NS}" liveness -o jsonpath='{.status.containerStatuses[0].lastState.terminated.exitCode}')"
else
	fail "failing liveness probe: $(kc get pod -n "${NS}" liveness -o jsonpath='{.status.containerStatuses[0]}' | head -c 300)"
fi
unhealthy_event() { kc get events -n "${NS}" --field-selector involvedObject.name=liveness,reason=Unhealthy -o name | grep -q .; }
check "the probe failure is an event (Unhealthy: Liveness probe failed)" unhealthy_event
terminated() { kc get pod -n "${NS}" "$1" -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}' 2>/dev/null | grep -q .; }
wait_for 90 terminated oom || true
reason="$(kc get pod -n "${NS}" oom -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')"
check "a container over its memory limit shows OOMKilled (got '${reason}')" test "${reason}" == OOMKilled
wait_for 60 terminated fallback || true
msg="$(kc get pod -n "${NS}" fallback -o jsonpath='{.status.containerStatuses[0].state.terminated.message}')"
check "FallbackToLogsOnError: the termination message is the log's tail (got '${msg%$'\n'}')" \
	grep -q 'fallback: the last words of a failing container' <<<"${msg}"

# ---- kubelet left the host's processes where they were --------------------------------
check "/proc/1/cgroup unchanged while kubelet runs" test "$(cat /proc/1/cgroup)" == "${CGROUP_PID1_BEFORE}"
check "this script's cgroups unchanged while kubelet runs" test "$(cat /proc/$$/cgroup)" == "${CGROUP_SELF_BEFORE}"

# ---- the DaemonSet installer upgrades berthd in place ------------------------------------
if [[ "${UPGRADE}" == true ]]; then
	# deploy/kubernetes as it is, but for the node's paths, which are under
	# the staging root here, the image's name and the ConfigMap's config
	# (the run's own, with its paths).
	mkdir -p "${WORK}/deploy"
	for f in "${ROOT}"/deploy/kubernetes/*.yaml; do
		sed -E -e "s#^( +image: )berth-installer:.*#\1docker.io/library/berth-installer:${INSTALLER_VERSION}#" \
			-e "s#^( +path: )(/usr/local|/opt/cni/bin|/etc/cni/net\.d|/etc/berth)\$#\1${H}\2#" \
			-e "s#^( +path: )/run/berth\$#\1${STATE}#" "${f}" >"${WORK}/deploy/$(basename "${f}")"
	done
	kc create configmap berth-config -n berth-system --from-file=config.toml="${WORK}/config.toml" \
		--dry-run=client -o yaml >"${WORK}/deploy/10-configmap.yaml"
	[[ "$(grep -c "image: docker.io/library/berth-installer:${INSTALLER_VERSION}" "${WORK}/deploy/20-daemonset.yaml")" == 2 &&
		"$(grep -c "path: ${WORK}/" "${WORK}/deploy/20-daemonset.yaml")" == 5 ]] ||
		die "deploy/kubernetes/20-daemonset.yaml changed: the run's rewrite of its image and host paths no longer fits"

	# What ran before: the long-lived pods' containers and restart counts.
	kc scale -n "${NS}" deployment/web --replicas=1 >/dev/null
	kc rollout status -n "${NS}" deployment/web --timeout=120s >/dev/null || true
	containers_of() {
		kc get pods -n "${NS}" -o json | jq -S '[.items[] | select(.metadata.name == "shell" or .metadata.name == "echo"
			or .metadata.name == "ticker" or .metadata.labels.app == "web")
			| {pod: .metadata.name, phase: .status.phase, containers: [.status.containerStatuses[] | {id: .containerID, restarts: .restartCount, running: (.state.running != null)}]}]'
	}
	containers_of >"${WORK}/before-upgrade.json"
	berthd_pid="${PIDS[berthd]}"
	klog_mark="$(wc -l <"${WORK}/kubelet.log")"
	"${BIN}/berth-criloop" --socket "${SOCK}" >"${WORK}/criloop.log" 2>&1 &
	PIDS[criloop]=$!
	sleep 1

	t=${SECONDS}
	kc apply -f "${WORK}/deploy/" >/dev/null
	if kc rollout status -n berth-system daemonset/berth-installer --timeout=300s >/dev/null; then
		pass "kubectl apply -f deploy/kubernetes/ (node paths under the staging root): DaemonSet rolled out in $((SECONDS - t)) s"
	else
		fail "the DaemonSet did not roll out in 300 s: $(kc get pods -n berth-system -o wide --no-headers | head -3)"
		kc logs -n berth-system -l app.kubernetes.io/name=berth-installer -c install --tail=20 >&2 || true
	fi
	kc logs -n berth-system -l app.kubernetes.io/name=berth-installer -c install >"${WORK}/installer.log" 2>&1 || true
	got="$(crictl version 2>/dev/null | awk '/RuntimeVersion/ {print $2}')"
	if [[ "${got}" == "${INSTALLER_VERSION}" && "$(cat "${STATE}/berthd.pid")" == "${berthd_pid}" ]] && kill -0 "${berthd_pid}"; then
		pass "berthd on the node runs the image's ${got}, upgraded in place (same pid ${berthd_pid})"
	else
		fail "berthd on the node runs '${got}' (want ${INSTALLER_VERSION}), pid file $(cat "${STATE}/berthd.pid" 2>/dev/null), was ${berthd_pid}"
	fi
	node_runtime_is() { [[ "$(kc get node "${NODE}" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')" == "$1" ]]; }
	check "the node reports berth://${INSTALLER_VERSION}" wait_for 60 node_runtime_is "berth://${INSTALLER_VERSION}"
	containers_of >"${WORK}/after-upgrade.json"
	if [[ -s "${WORK}/before-upgrade.json" ]] && cmp -s "${WORK}/before-upgrade.json" "${WORK}/after-upgrade.json" &&
		jq -e 'length == 4 and all(.[]; .phase == "Running" and all(.containers[]; .running))' "${WORK}/after-upgrade.json" >/dev/null; then
		pass "the 4 pods from before the upgrade still Running, same container IDs, no restarts"
	else
		fail "pods changed across the upgrade: $(diff <(jq -c '.[]' "${WORK}/before-upgrade.json") <(jq -c '.[]' "${WORK}/after-upgrade.json") | head -c 400)"
	fi
	t=${SECONDS}
	kc scale -n "${NS}" deployment/web --replicas=3 >/dev/null
	if kc rollout status -n "${NS}" deployment/web --timeout=120s >/dev/null && wait_for 30 running_ready 3; then
		pass "new pods start after the upgrade (web scaled 1 -> 3 in $((SECONDS - t)) s)"
	else
		fail "new pods did not start after the upgrade"
	fi
	kill -TERM "${PIDS[criloop]}"
	wait "${PIDS[criloop]}" 2>/dev/null || true
	unset "PIDS[criloop]"
	summary="$(tail -1 "${WORK}/criloop.log")"
	if [[ "${summary}" =~ ^rounds\ ([0-9]+)\ errors\ 0\ slowest ]] && ((BASH_REMATCH[1] > 0)); then
		pass "CRI Version and ListPodSandbox every 50 ms through the upgrade: no error (${summary})"
	else
		fail "CRI calls during the upgrade: ${summary}; first: $(head -1 "${WORK}/criloop.log")"
	fi
	down="$(tail -n +"$((klog_mark + 1))" "${WORK}/kubelet.log" | grep -E 'Container runtime not ready|runtime is down|PLEG is not healthy|NodeNotReady|Node became not ready' | head -3 || true)"
	if [[ -z "${down}" ]]; then
		pass "kubelet logged no runtime-down event during the upgrade"
	else
		fail "kubelet during the upgrade: ${down}"
	fi
	kc delete -f "${WORK}/deploy/20-daemonset.yaml" --wait=true >/dev/null
	installer_gone() { [[ -z "$(kc get pods -n berth-system -o name 2>/dev/null)" ]]; }
	wait_for 60 installer_gone || true
	sleep 2
	if installer_gone && kill -0 "${berthd_pid}" 2>/dev/null &&
		[[ "$(crictl version 2>/dev/null | awk '/RuntimeVersion/ {print $2}')" == "${INSTALLER_VERSION}" ]]; then
		pass "deleting the DaemonSet leaves the node's berthd running (${INSTALLER_VERSION})"
	else
		fail "after deleting the DaemonSet: installer pods $(kc get pods -n berth-system --no-headers 2>/dev/null | wc -l), berthd $(kill -0 "${berthd_pid}" 2>/dev/null && echo running || echo gone)"
	fi
	kc delete -f "${WORK}/deploy/10-configmap.yaml" -f "${WORK}/deploy/00-namespace.yaml" --wait=false >/dev/null 2>&1 || true
fi

# ---- Kubernetes' own conformance specs ---------------------------------------------------
if [[ "${UPSTREAM}" == true ]]; then
	upstream_totals() { sed -nE 's/^e2e\.test: ([0-9]+ passed, .*)$/\1/p' "${WORK}/upstream.log" | grep .; }
	t=${SECONDS}
	if "${ROOT}/hack/e2e-cluster-upstream.sh" "${WORK}/admin.kubeconfig" "${LOGS}/upstream" >"${WORK}/upstream.log" 2>&1; then
		pass "upstream e2e.test: $(upstream_totals), every failure listed in test/e2e/upstream/expected-failures.txt ($((SECONDS - t)) s)"
	else
		fail "upstream e2e.test: $(upstream_totals || tail -3 "${WORK}/upstream.log") ($((SECONDS - t)) s)"
	fi
	grep -E '^(UNEXPECTED FAILURE|    |NOW PASSES|known failure|e2e\.test)' "${WORK}/upstream.log" >&2 || true
fi

# ---- teardown through the API ---------------------------------------------------------
t=${SECONDS}
kc delete namespace "${NS}" --wait=false >/dev/null
if wait_for 120 no_pods_in_ns; then
	pass "namespace ${NS} deleted: every pod gone in $((SECONDS - t)) s"
else
	fail "pods of ${NS} left 120 s after its deletion"
fi

printf '%d passed, %d failed (%d s)\n' "${PASSED}" "${FAILED}" "$((SECONDS - T0))"
((FAILED == 0))
