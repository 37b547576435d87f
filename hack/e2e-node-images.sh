#!/usr/bin/env bash
# e2e-node-images.sh builds the images Kubernetes' node conformance suite
# runs (test/images/e2enode.go, build-images --set e2e-node) into an output
# of their own, beside hack/images.sh's critest images:
#
#   _output/e2e-node/images/debs/     busybox, libc6, util-linux, bash, libtinfo6 .debs (a cache)
#   _output/e2e-node/images/bin/      the static programs (berth-pause, webserver, nnp,
#                                     pgrep, nmeter, curl, and agnhost from hack/e2e-node-build.sh) and
#                                     agnhost's test certificate from the kubernetes module
#   _output/e2e-node/images/layout/   OCI image layout that berth-registry serves
#   _output/e2e-node/images/digests.txt
#
# Like hack/images.sh it is reproducible and keeps a stamp over its inputs
# (_output/.stamps/e2e-node-images). Run hack/e2e-node-build.sh first.
#
# Usage: hack/e2e-node-images.sh   (hack/e2e-node.sh runs it; root to download the .debs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
IMG="${OUT}/e2e-node/images"
STAMP="${OUT}/.stamps/e2e-node-images"
GO="${GO:-go}"
DEB_PACKAGES=(busybox libc6 util-linux bash libtinfo6)

log() { printf 'e2e-node-images.sh: %s\n' "$*"; }
die() {
	printf 'e2e-node-images.sh: %s\n' "$*" >&2
	exit 1
}

[[ -x "${OUT}/bin/agnhost" ]] || die "${OUT}/bin/agnhost is missing: run hack/e2e-node-build.sh"

fetch_debs() {
	mkdir -p "${IMG}/debs"
	local pkg missing=()
	for pkg in "${DEB_PACKAGES[@]}"; do
		compgen -G "${IMG}/debs/${pkg}_*.deb" >/dev/null || missing+=("${pkg}")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	command -v apt-get >/dev/null || die "apt-get is needed to download ${missing[*]}"
	if ! apt-cache show bash >/dev/null 2>&1; then
		apt-get update -qq
	fi
	local tmp
	tmp="$(mktemp -d)"
	log "downloading ${missing[*]}"
	if ! (cd "${tmp}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}"); then
		apt-get update -qq
		(cd "${tmp}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}")
	fi
	mv "${tmp}"/*.deb "${IMG}/debs/"
	rmdir "${tmp}"
}

build_static() { # build_static OUTPUT PACKAGE (a ./test/ package is in the test module)
	local dir="${ROOT}" pkg=$2
	if [[ ${pkg} == ./test/* ]]; then dir="${ROOT}/test" pkg="./${pkg#./test/}"; fi
	(cd "${dir}" && CGO_ENABLED=0 "${GO}" build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o "$1" "${pkg}")
}

input_hash() {
	{
		"${GO}" version
		(cd "${ROOT}" && find cmd/berth-pause test/images hack/e2e-node-images.sh go.mod go.sum test/go.mod test/go.sum \
			-type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		(cd "${IMG}/debs" && sha256sum ./*.deb)
		sha256sum "${OUT}/bin/agnhost" "${certs}/localhost.crt" "${certs}/localhost.key" | cut -d' ' -f1
	} | sha256sum | cut -d' ' -f1
}

fetch_debs
kdir="$(cd "${ROOT}/test/kubelet" && GOWORK=off GOTOOLCHAIN=local "${GO}" list -m -f '{{.Dir}}' k8s.io/kubernetes)"
certs="${kdir}/test/images/agnhost/porter"
want="$(input_hash)"
if [[ -f "${STAMP}" && "$(<"${STAMP}")" == "${want}" && -f "${IMG}/layout/index.json" ]]; then
	log "up to date"
	exit 0
fi

log "building programs"
mkdir -p "${IMG}/bin" "${OUT}/.stamps"
build_static "${IMG}/bin/berth-pause" ./cmd/berth-pause
build_static "${IMG}/bin/webserver" ./test/images/cmd/webserver
build_static "${IMG}/bin/nnp" ./test/images/cmd/nnp
build_static "${IMG}/bin/pgrep" ./test/images/cmd/pgrep
build_static "${IMG}/bin/nmeter" ./test/images/cmd/nmeter
build_static "${IMG}/bin/curl" ./test/images/cmd/curl
build_static "${IMG}/build-images" ./test/images/cmd/build-images
install -m 0755 "${OUT}/bin/agnhost" "${IMG}/bin/agnhost"
install -m 0644 "${certs}/localhost.crt" "${certs}/localhost.key" "${IMG}/bin/"

log "building images"
"${IMG}/build-images" --set e2e-node --debs "${IMG}/debs" --bins "${IMG}/bin" \
	--layout "${IMG}/layout" --pause-archive '' >"${IMG}/digests.txt.tmp"
mv "${IMG}/digests.txt.tmp" "${IMG}/digests.txt"
printf '%s\n' "${want}" >"${STAMP}"
log "$(wc -l <"${IMG}/digests.txt") image names in ${IMG}/layout"
