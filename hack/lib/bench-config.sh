#!/bin/bash
# bench-config.sh is sourced by hack/bench.sh and, inside the test node VM,
# by hack/test-node-bench-vm.sh: the CNI networks and the configuration of
# containerd with its own CRI plugin that Berth is compared with, written
# alike in both places so that only the cgroup driver and the crun binary
# differ, and the check that a runtime serves.

# bench_conflist NAME BRIDGE SUBNET IPAMDIR prints a CNI network: bridge
# with host-local, and portmap (each runtime has a bridge and subnet of
# its own).
bench_conflist() {
	cat <<CONF
{"cniVersion": "1.0.0", "name": "$1", "plugins": [
  {"type": "bridge", "bridge": "$2", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$3"}]], "dataDir": "$4"}},
  {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}]}
CONF
}

# bench_ctrd_config WORK CNI_BIN RUNC CRUN SYSTEMD prints the config of
# containerd with its CRI, configured like Berth: the same runc (RUNC) and
# crun (CRUN) as handlers runc and crun (the runc shim running each, with
# a state root of its own in WORK, as Berth keeps it in its state dir),
# CNI plugins, pause image (through the same mirror, WORK/hosts), cgroup
# driver (SYSTEMD: true for systemd, false for cgroupfs), and OOM scores
# restricted as Berth restricts them.
bench_ctrd_config() {
	local work=$1 cni_bin=$2 runc=$3 crun=$4 systemd=$5
	cat <<CONF
version = 4
root = "${work}/ctrd-root"
state = "${work}/ctrd-state"
[plugins."io.containerd.server.v1.grpc"]
  address = "${work}/ctrd.sock"
[plugins."io.containerd.server.v1.ttrpc"]
  address = "${work}/ctrd.sock.ttrpc"
[plugins."io.containerd.shim.v1.manager"]
  socket_dir = "${work}/cs"
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "registry.k8s.io/pause:3.10.1"
[plugins."io.containerd.cri.v1.images".registry]
  config_path = "${work}/hosts"
[plugins."io.containerd.cri.v1.runtime"]
  # As Berth does: a node without CAP_SYS_RESOURCE refuses negative scores.
  restrict_oom_score_adj = true
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["${cni_bin}"]
  conf_dir = "${work}/ctrd-net"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "${runc}"
  SystemdCgroup = ${systemd}
  # runc's state in the work dir, not /run/containerd/runc, which would
  # outlive the run.
  Root = "${work}/ctrd-runc"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crun.options]
  BinaryName = "${crun}"
  SystemdCgroup = ${systemd}
  Root = "${work}/ctrd-crun"
CONF
}

# bench_serving BIN WORK NAME succeeds when the runtime on WORK/NAME.sock
# serves all of CRI: berthd answers Status while its start-up and recovery
# run, and the rest, ImageFsInfo among them, once they are done.
bench_serving() {
	local crictl=$1/crictl sock=$2/$3.sock
	"${crictl}" --runtime-endpoint "unix://${sock}" info 2>/dev/null | grep -q '"RuntimeReady"' &&
		"${crictl}" --runtime-endpoint "unix://${sock}" --image-endpoint "unix://${sock}" imagefsinfo >/dev/null 2>&1
}
