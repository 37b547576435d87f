#!/usr/bin/env bash
# installer-image.sh builds the DaemonSet installer's image
# (deploy/kubernetes) with Berth's own OCI image tooling, no Docker, and
# pushes it to a plain-HTTP registry such as the loopback test registry
# (berth-registry): what deploy/kubernetes/Dockerfile describes, with the
# busybox base of the test images and Debian's bash in place of
# debian:12-slim (test/images/installer.go).
#
# The image carries a berthd built with a version of its own, VERSION, so an
# upgrade through the DaemonSet shows on the node (crictl version, kubectl
# get node -o wide). Its name is docker.io/library/berth-installer:VERSION,
# which the registry's hosts.toml files send to the registry.
#
#   _output/installer-e2e/bin   berthd at VERSION, the rest of _output/bin
#   _output/installer-e2e/ctx   the build context (hack/install.sh stage)
#   _output/installer-e2e/debs  the base's .debs (_output/images/debs) and
#                               bash, libtinfo6 (apt-get download, cached)
#
# Usage: hack/installer-image.sh REGISTRY_ADDR VERSION   (prints "digest name")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output"
DIR="${OUT}/installer-e2e"
REGISTRY="${1:?usage: $0 REGISTRY_ADDR VERSION}"
VERSION="${2:?usage: $0 REGISTRY_ADDR VERSION}"

die() {
	printf 'installer-image.sh: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=hack/versions.env
source "${ROOT}/hack/versions.env"
[[ "${VERSION}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "VERSION ${VERSION} is not a valid image tag"
mkdir -p "${DIR}/bin" "${DIR}/debs"

# berthd as make build makes it, but for the version.
pkg=github.com/berth-cri/berth
commit="$(cd "${ROOT}" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
ldflags="-X ${pkg}/internal/version.Version=${VERSION} -X ${pkg}/internal/version.Commit=${commit}"
ldflags+=" -X ${pkg}/internal/version.Containerd=${CONTAINERD_VERSION} -X ${pkg}/internal/version.Runc=${RUNC_VERSION}"
ldflags+=" -X ${pkg}/internal/version.CNIPlugins=${CNI_PLUGINS_VERSION}"
(cd "${ROOT}" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${DIR}/bin/berthd" ./cmd/berthd)
for b in berth-pause containerd containerd-shim-runc-v2 runc crictl; do
	[[ -x "${OUT}/bin/${b}" ]] || die "${OUT}/bin/${b} is missing: run make deps build"
	ln -sfn "$(readlink -f "${OUT}/bin/${b}")" "${DIR}/bin/${b}"
done
SRC_BIN="${DIR}/bin" SRC_CNI_BIN="${OUT}/cni/bin" "${ROOT}/hack/install.sh" stage "${DIR}/ctx" >/dev/null

for pkg in busybox libc6 util-linux; do
	deb="$(compgen -G "${OUT}/images/debs/${pkg}_*.deb" | head -1)" || die "no ${pkg} .deb in ${OUT}/images/debs: run make images"
	ln -sfn "$(readlink -f "${deb}")" "${DIR}/debs/$(basename "${deb}")"
done
missing=()
for pkg in bash libtinfo6; do
	compgen -G "${DIR}/debs/${pkg}_*.deb" >/dev/null || missing+=("${pkg}")
done
if ((${#missing[@]})); then
	tmp="$(mktemp -d)"
	if ! (cd "${tmp}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}"); then
		apt-get update -qq
		(cd "${tmp}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}")
	fi
	mv "${tmp}"/*.deb "${DIR}/debs/"
	rmdir "${tmp}"
fi

(cd "${ROOT}/test" && CGO_ENABLED=0 go build -trimpath -o "${DIR}/build-installer" ./images/cmd/build-installer)
"${DIR}/build-installer" --debs "${DIR}/debs" --bins "${OUT}/images/bin" --context "${DIR}/ctx" \
	--ref "docker.io/library/berth-installer:${VERSION}" --push "${REGISTRY}"
