#!/usr/bin/env bash
# install.sh installs Berth on a node, or removes what it installed.
# `make install` and `make uninstall` run it; so does the DaemonSet installer
# (deploy/kubernetes/), with DESTDIR=/host.
#
# install writes, under DESTDIR:
#   BINDIR (PREFIX/bin)      berthd, berth-pause, containerd, containerd-shim-runc-v2, runc, crictl
#   /opt/cni/bin             the CNI plugins Berth is built with
#   UNITDIR                  berth.service, berth-external-containerd.service
#                            (PREFIX/lib/systemd/system; ExecStart names BINDIR)
#   /etc/berth/config.toml   `berthd config default`, only when there is none
#                            (BERTH_CONFIG=file installs that file instead,
#                            replacing the one there); CRUN=yes adds a crun
#                            runtime handler to the default it writes
#                            (crun itself is Debian's package: apt install crun)
#   CNI_CONF_DIR             10-berth.conflist, only when it holds no network config
#   /etc/crictl.yaml         pointing crictl at Berth, only when there is none
#                            (CRICTL_YAML=no skips it)
# and records every file with its sha256, and every directory it had to
# create, in PREFIX/lib/berth/installed. A second install (an upgrade)
# replaces binaries and units and keeps the record of what the first wrote.
#
# uninstall removes each recorded file whose content is still what install
# wrote, and then each recorded directory left empty. A file changed since
# (an edited config.toml) is kept and named: it is the operator's now.
#
# stage DIR copies what install reads into DIR, the DaemonSet installer
# image's build context.
#
# Usage: hack/install.sh install|uninstall|stage DIR
#   with DESTDIR, PREFIX, BINDIR, UNITDIR, CNI_CONF_DIR, BERTH_CONFIG,
#   CRICTL_YAML, CRUN, and the sources SRC_BIN, SRC_CNI_BIN in the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr/local}"
BINDIR="${BINDIR:-${PREFIX}/bin}"
UNITDIR="${UNITDIR:-${PREFIX}/lib/systemd/system}"
CNI_BIN_DIR=/opt/cni/bin
CNI_CONF_DIR="${CNI_CONF_DIR:-/etc/cni/net.d}"
CONFIG=/etc/berth/config.toml
CRICTL_YAML="${CRICTL_YAML:-yes}"
CRUN="${CRUN:-no}"
BERTH_CONFIG="${BERTH_CONFIG:-}"
SRC_BIN="${SRC_BIN:-${ROOT}/_output/bin}"
SRC_CNI_BIN="${SRC_CNI_BIN:-${ROOT}/_output/cni/bin}"
RECORD="${PREFIX}/lib/berth/installed"

BINARIES=(berthd berth-pause containerd containerd-shim-runc-v2 runc crictl)
CNI_PLUGINS=(bridge host-local loopback portmap)
UNITS=(berth.service berth-external-containerd.service)

WORK=""
trap '[[ -z "${WORK}" ]] || rm -rf "${WORK}"' EXIT

log() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

for v in PREFIX BINDIR UNITDIR CNI_CONF_DIR; do
	[[ "${!v}" == /* ]] || die "${v} must be an absolute path, got '${!v}'"
done

# The new record is built in memory: "file <sha256> <path>" and
# "dir - <path>" lines, paths as they are on the node (without DESTDIR).
declare -A FILES=() DIRS=()
declare -a DIR_ORDER=()

read_record() {
	local kind sum path
	[[ -f "${DESTDIR}${RECORD}" ]] || return 0
	while read -r kind sum path; do
		case "${kind}" in
		file) FILES["${path}"]="${sum}" ;;
		dir)
			DIRS["${path}"]=1
			DIR_ORDER+=("${path}")
			;;
		esac
	done <"${DESTDIR}${RECORD}"
}

# ensure_dir PATH creates PATH and its missing parents under DESTDIR,
# recording each one it creates, so uninstall removes no directory that was
# there before.
ensure_dir() {
	local path=$1 partial="" part
	local -a parts
	IFS=/ read -r -a parts <<<"${path#/}"
	for part in "${parts[@]}"; do
		partial="${partial}/${part}"
		if [[ ! -d "${DESTDIR}${partial}" ]]; then
			mkdir -m 0755 "${DESTDIR}${partial}"
			if [[ -z "${DIRS[${partial}]:-}" ]]; then
				DIRS["${partial}"]=1
				DIR_ORDER+=("${partial}")
			fi
		fi
	done
}

# put MODE SOURCE PATH installs SOURCE at PATH and records it. install(1)
# replaces the file rather than writing into it, so a running berthd or
# containerd can be upgraded in place.
put() {
	local mode=$1 src=$2 path=$3
	ensure_dir "$(dirname "${path}")"
	install -m "${mode}" "${src}" "${DESTDIR}${path}"
	FILES["${path}"]="$(sha256sum <"${DESTDIR}${path}" | cut -d' ' -f1)"
	log "installed ${path}"
}

has_network_config() {
	compgen -G "${DESTDIR}${CNI_CONF_DIR}/*.conf" >/dev/null ||
		compgen -G "${DESTDIR}${CNI_CONF_DIR}/*.conflist" >/dev/null ||
		compgen -G "${DESTDIR}${CNI_CONF_DIR}/*.json" >/dev/null
}

write_record() {
	local tmp path
	ensure_dir "$(dirname "${RECORD}")"
	tmp="$(mktemp "${DESTDIR}${RECORD}.XXXXXX")"
	{
		for path in "${DIR_ORDER[@]}"; do
			printf 'dir - %s\n' "${path}"
		done
		for path in "${!FILES[@]}"; do
			printf 'file %s %s\n' "${FILES[${path}]}" "${path}"
		done | sort -k3
	} >"${tmp}"
	chmod 0644 "${tmp}"
	mv "${tmp}" "${DESTDIR}${RECORD}"
}

check_sources() {
	local b p
	for b in "${BINARIES[@]}"; do
		[[ -x "${SRC_BIN}/${b}" ]] || die "${SRC_BIN}/${b} is missing: run make build and make deps first"
	done
	for p in "${CNI_PLUGINS[@]}"; do
		[[ -x "${SRC_CNI_BIN}/${p}" ]] || die "${SRC_CNI_BIN}/${p} is missing: run make deps first"
	done
}

# add_crun appends the crun runtime handler to config file $1. crun is
# Debian's package, not Berth's: it must be on the node already.
add_crun() {
	[[ -x "${DESTDIR}/usr/bin/crun" || -x "${DESTDIR}/usr/local/bin/crun" ]] ||
		die "CRUN=yes: crun is not installed on the node (apt-get install crun)"
	cat >>"$1" <<-'EOF'

		# Added by make install CRUN=yes: pods of RuntimeClass handler crun.
		[runtimes.crun]
		  binary = 'crun'
	EOF
}

install_all() {
	local b p u kept_config=""
	check_sources
	[[ -z "${BERTH_CONFIG}" || -f "${BERTH_CONFIG}" ]] || die "BERTH_CONFIG=${BERTH_CONFIG} is not a file"
	if [[ -n "${DESTDIR}" ]]; then
		mkdir -p "${DESTDIR}"
	fi
	read_record

	WORK="$(mktemp -d)"
	for b in "${BINARIES[@]}"; do
		put 0755 "${SRC_BIN}/${b}" "${BINDIR}/${b}"
	done
	for p in "${CNI_PLUGINS[@]}"; do
		put 0755 "${SRC_CNI_BIN}/${p}" "${CNI_BIN_DIR}/${p}"
	done
	for u in "${UNITS[@]}"; do
		sed "s|/usr/local/bin/|${BINDIR}/|g" "${ROOT}/deploy/systemd/${u}" >"${WORK}/${u}"
		put 0644 "${WORK}/${u}" "${UNITDIR}/${u}"
	done

	if [[ -n "${BERTH_CONFIG}" ]]; then
		put 0644 "${BERTH_CONFIG}" "${CONFIG}"
	elif [[ -e "${DESTDIR}${CONFIG}" ]]; then
		log "kept ${CONFIG}: it exists (berthd config default prints the current defaults)"
		kept_config=1
	else
		"${SRC_BIN}/berthd" config default >"${WORK}/config.toml"
		[[ "${CRUN}" != yes ]] || add_crun "${WORK}/config.toml"
		put 0644 "${WORK}/config.toml" "${CONFIG}"
	fi
	if [[ "${CRUN}" == yes && -n "${BERTH_CONFIG}${kept_config}" ]]; then
		log "CRUN=yes: ${CONFIG} was not written from the defaults; add a [runtimes.crun] table to it (docs/configuration.md)"
	fi
	if has_network_config; then
		log "kept the network config in ${CNI_CONF_DIR}: 10-berth.conflist is installed only where there is none"
	else
		put 0644 "${ROOT}/deploy/cni/10-berth.conflist" "${CNI_CONF_DIR}/10-berth.conflist"
	fi
	if [[ "${CRICTL_YAML}" != yes ]]; then
		:
	elif [[ -e "${DESTDIR}/etc/crictl.yaml" ]]; then
		log "kept /etc/crictl.yaml: it exists"
	else
		put 0644 "${ROOT}/deploy/crictl.yaml" /etc/crictl.yaml
	fi
	write_record
	log "recorded what was installed in ${RECORD}"
	if [[ -z "${DESTDIR}" ]]; then
		log "next: systemctl daemon-reload && systemctl enable --now berth.service"
	fi
}

uninstall_all() {
	local path sum i kept=0
	local -a paths
	[[ -f "${DESTDIR}${RECORD}" ]] || die "${DESTDIR}${RECORD} does not exist: nothing was installed here"
	read_record
	mapfile -t paths < <(printf '%s\n' "${!FILES[@]}" | sort)
	for path in "${paths[@]}"; do
		[[ -e "${DESTDIR}${path}" ]] || continue
		sum="$(sha256sum <"${DESTDIR}${path}" | cut -d' ' -f1)"
		if [[ "${sum}" == "${FILES[${path}]}" ]]; then
			rm -f "${DESTDIR}${path}"
			log "removed ${path}"
		else
			log "kept ${path}: it changed since it was installed"
			kept=$((kept + 1))
		fi
	done
	rm -f "${DESTDIR}${RECORD}"
	# Deepest first; a directory that still holds anything stays.
	for ((i = ${#DIR_ORDER[@]} - 1; i >= 0; i--)); do
		rmdir "${DESTDIR}${DIR_ORDER[i]}" 2>/dev/null || true
	done
	if ((kept > 0)); then
		log "kept ${kept} changed file(s); remove them by hand if they are no longer wanted"
	fi
}

# stage_all DIR copies everything install reads into DIR, in this
# repository's layout and with symlinks resolved: the DaemonSet installer
# image's build context (deploy/kubernetes/Dockerfile).
stage_all() {
	local dir=$1 b p f
	[[ -n "${dir}" ]] || die "usage: $0 stage DIR"
	check_sources
	rm -rf "${dir}"
	mkdir -p "${dir}/_output/bin" "${dir}/_output/cni/bin" "${dir}/hack" "${dir}/deploy/systemd" \
		"${dir}/deploy/cni" "${dir}/deploy/kubernetes"
	for b in "${BINARIES[@]}"; do
		cp -L "${SRC_BIN}/${b}" "${dir}/_output/bin/${b}"
	done
	for p in "${CNI_PLUGINS[@]}"; do
		cp -L "${SRC_CNI_BIN}/${p}" "${dir}/_output/cni/bin/${p}"
	done
	for f in "${UNITS[@]/#/deploy/systemd/}" deploy/cni/10-berth.conflist deploy/crictl.yaml \
		deploy/kubernetes/install-on-node.sh hack/install.sh; do
		cp -L "${ROOT}/${f}" "${dir}/${f}"
	done
	log "staged the installer image's context in ${dir}"
}

case "${1:-}" in
install) install_all ;;
uninstall) uninstall_all ;;
stage) stage_all "${2:-}" ;;
*) die "usage: $0 install|uninstall|stage DIR" ;;
esac
