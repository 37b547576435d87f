#!/usr/bin/env bash
# images.sh builds Berth's offline test images and the loopback registry
# that serves them, into _output/:
#
#   _output/images/bin/        static programs the images carry
#                              (berth-pause, webserver, nnp, pgrep)
#   _output/images/debs/       busybox, libc6, util-linux .debs (apt-get download;
#                              kept as a cache, delete to refresh)
#   _output/images/layout/     OCI image layout, one index entry per image name
#   _output/images/pause.tar   the pause image alone, for containerd's Import
#   _output/images/digests.txt "digest name" per image name
#   _output/bin/berth-registry the registry (test/cmd/berth-registry)
#
# The images are reproducible: same sources, same .debs and same Go give
# the same digests. A stamp over all of those makes a second run with
# unchanged inputs do nothing.
#
# Usage: hack/images.sh   (from anywhere; `make images` runs it). Needs
# apt-get and dpkg-deb (Debian), and root only to download the .debs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
IMG="${OUT}/images"
STAMP="${OUT}/.stamps/images"
GO="${GO:-go}"
DEB_PACKAGES=(busybox libc6 util-linux)

log() { printf 'images.sh: %s\n' "$*"; }
die() {
	printf 'images.sh: %s\n' "$*" >&2
	exit 1
}

# fetch_debs downloads each package's .deb unless one is cached already.
fetch_debs() {
	mkdir -p "${IMG}/debs"
	local pkg missing=()
	for pkg in "${DEB_PACKAGES[@]}"; do
		compgen -G "${IMG}/debs/${pkg}_*.deb" >/dev/null || missing+=("${pkg}")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	command -v apt-get >/dev/null || die "apt-get is needed to download ${missing[*]}"
	# A fresh machine has no package lists yet: apt-get download then
	# knows no candidate at all.
	if ! apt-cache show busybox >/dev/null 2>&1; then
		log "apt-get update"
		apt-get update -qq
	fi
	local tmp
	tmp="$(mktemp -d)"
	log "downloading ${missing[*]}"
	# Stale lists may name versions the mirror no longer has: refresh once.
	if ! (cd "${tmp}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}"); then
		log "apt-get update and retry"
		apt-get update -qq
		(cd "${tmp}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}")
	fi
	mv "${tmp}"/*.deb "${IMG}/debs/"
	rmdir "${tmp}"
}

# input_hash digests everything the outputs are made from.
input_hash() {
	{
		"${GO}" version
		(cd "${ROOT}" && find cmd/berth-pause test/images test/cmd/berth-registry hack/images.sh go.mod go.sum test/go.mod test/go.sum \
			-type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		(cd "${IMG}/debs" && sha256sum ./*.deb)
	} | sha256sum | cut -d' ' -f1
}

build_static() { # build_static OUTPUT PACKAGE (a ./test/ package is in the test module)
	local dir="${ROOT}" pkg=$2
	if [[ ${pkg} == ./test/* ]]; then dir="${ROOT}/test" pkg="./${pkg#./test/}"; fi
	(cd "${dir}" && CGO_ENABLED=0 "${GO}" build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o "$1" "${pkg}")
}

main() {
	fetch_debs
	local want
	want="$(input_hash)"
	if [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${want}" && -f "${IMG}/layout/index.json" &&
		-f "${IMG}/pause.tar" && -x "${OUT}/bin/berth-registry" ]]; then
		log "up to date"
		return 0
	fi

	log "building programs"
	mkdir -p "${IMG}/bin" "${OUT}/bin" "${OUT}/.stamps"
	build_static "${IMG}/bin/berth-pause" ./cmd/berth-pause
	build_static "${IMG}/bin/webserver" ./test/images/cmd/webserver
	build_static "${IMG}/bin/nnp" ./test/images/cmd/nnp
	build_static "${IMG}/bin/pgrep" ./test/images/cmd/pgrep
	build_static "${IMG}/build-images" ./test/images/cmd/build-images
	build_static "${OUT}/bin/berth-registry" ./test/cmd/berth-registry

	log "building images"
	"${IMG}/build-images" --debs "${IMG}/debs" --bins "${IMG}/bin" \
		--layout "${IMG}/layout" --pause-archive "${IMG}/pause.tar" >"${IMG}/digests.txt.tmp"
	mv "${IMG}/digests.txt.tmp" "${IMG}/digests.txt"
	printf '%s\n' "${want}" >"${STAMP}"
	log "$(wc -l <"${IMG}/digests.txt") image names in ${IMG}/layout; digests in ${IMG}/digests.txt"
}

main "$@"
