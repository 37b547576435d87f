#!/usr/bin/env bash
# test-node-image.sh builds the test node's disk images: Debian root
# filesystems made from Debian's packages alone (mmdebstrap, the machine's
# configured apt sources), written into ext4 images without mounting
# anything (mke2fs -d). `make test-node` (hack/test-node.sh) runs it.
#
# Two variants share one package set (crun included), kernel and initramfs:
#   minimal   no apparmor package (the kernel's AppArmor is on, Debian's
#             default, but there is no apparmor_parser), overlay not loaded
#             at boot;
#   apparmor  the same plus Debian's apparmor package.
# Each image holds systemd as PID 1 on the unified cgroup v2 hierarchy and
# one unit of our own, berth-node.service: at boot it mounts the disk
# labelled berth-node (the per-run payload hack/test-node.sh makes) and runs
# its run.sh, then powers the VM off. Everything Berth is on that disk, so
# a change to Berth or to the checks does not rebuild the images.
#
# Output, in DIR (default _output/test-node/image-<key>): minimal.img,
# apparmor.img (raw ext4, sparse), vmlinuz, initrd.img, packages.txt. The key
# hashes this script and the apt sources it reads: the same inputs are not
# built twice. Prints DIR on its last line.
#
# Usage: hack/test-node-image.sh   (root; needs mmdebstrap and e2fsprogs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/_output/test-node"
SOURCES_DIR="${SOURCES_DIR:-/etc/apt/sources.list.d}"
IMAGE_SIZE="${IMAGE_SIZE:-8G}"

log() { printf 'test-node-image: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# What a production-like node has, and what the checks use: iptables and
# conntrack for CNI's portmap, dbus for runc's systemd cgroup driver, jq and
# procps for the checks' shell parts; crun (Debian's 1.8) for the crun
# runtime handler (the build machine's hybrid cgroups refuse it; a cgroup v2
# node is where it runs).
PACKAGES=(
	linux-image-amd64 initramfs-tools systemd systemd-sysv udev dbus kmod
	iptables conntrack util-linux iproute2 procps e2fsprogs jq crun
)

# sources lists the enabled deb822 apt sources of the machine: the mirror
# and suites come from there at run time, never from this repository.
sources() {
	local f
	for f in "${SOURCES_DIR}"/*.sources; do
		[[ -f "${f}" ]] || continue
		awk 'BEGIN{IGNORECASE=1} /^Enabled:[ \t]*no/{skip=1} END{exit skip}' "${f}" || continue
		grep -qi '^Types:.*\bdeb\b' "${f}" && printf '%s\n' "${f}"
	done
}

# suite is the first suite of the first source: the Debian release the
# machine itself tracks (bookworm here).
suite() {
	awk 'tolower($1)=="suites:" {print $2; exit}' "$(sources | head -1)"
}

mapfile -t SOURCE_FILES < <(sources)
[[ ${#SOURCE_FILES[@]} -gt 0 ]] || die "no enabled deb822 sources in ${SOURCES_DIR}"
SUITE="$(suite)"
[[ -n "${SUITE}" ]] || die "no Suites: in ${SOURCE_FILES[0]}"

KEY="$(cat "${BASH_SOURCE[0]}" "${SOURCE_FILES[@]}" | sha256sum | cut -c1-16)"
DIR="${1:-${OUT}/image-${KEY}}"
if [[ -f "${DIR}/done" ]]; then
	log "cached: ${DIR}"
	echo "${DIR}"
	exit 0
fi
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap qemu-system-x86 qemu-utils e2fsprogs"

rm -rf "${DIR}"
mkdir -p "${DIR}"
WORK="$(mktemp -d "${OUT}/build-XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
start=${SECONDS}

# The unit that runs each boot's payload. It waits for multi-user.target,
# so the node is up as it would be for kubelet, and powers off afterwards
# whatever the payload did; the payload's own timeout is the host's.
cat >"${WORK}/berth-node.service" <<'UNIT'
[Unit]
Description=Berth test node: run the payload disk's run.sh, then power off
After=multi-user.target
ConditionPathExists=/dev/disk/by-label/berth-node

[Service]
Type=oneshot
ExecStartPre=/bin/mkdir -p /mnt/node
ExecStartPre=/bin/mount /dev/disk/by-label/berth-node /mnt/node
ExecStart=/mnt/node/run.sh
ExecStopPost=/bin/sh -c 'sync; umount /mnt/node; systemctl poweroff --no-block'
TimeoutStartSec=infinity
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
UNIT

# setup runs inside the new root (as mmdebstrap's customize hook, $1 is the
# root): fstab, hostname, the unit, and nothing on the boot path a node does
# not need.
cat >"${WORK}/setup.sh" <<'SETUP'
#!/bin/sh
set -eu
r="$1"
echo 'LABEL=berth-root / ext4 defaults,errors=remount-ro 0 1' >"$r/etc/fstab"
echo berth-node >"$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 berth-node\n::1 localhost\n' >"$r/etc/hosts"
cp "$r/tmp/berth-node.service" "$r/etc/systemd/system/berth-node.service"
rm -f "$r/tmp/berth-node.service"
chroot "$r" systemctl enable berth-node.service
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	serial-getty@ttyS0.service getty@tty1.service; do
	chroot "$r" systemctl mask "$u"
done
# Root may log in on the console without a password: for debugging a run by
# hand only (hack/test-node.sh --shell); the VM has no network.
chroot "$r" passwd -d root
SETUP
chmod +x "${WORK}/setup.sh"

# snapshot ROOT NAME records ROOT's packages and, for minimal, copies the
# tree out (this file system only: not the /proc, /sys, /dev mmdebstrap
# mounts there).
cat >"${WORK}/snapshot.sh" <<'SNAP'
#!/bin/sh
set -eu
r="$1" name="$2" work="$(dirname "$0")"
chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages-$name.txt"
if [ "$name" = minimal ]; then
	mkdir -p "$work/minimal"
	tar -C "$r" --one-file-system --xattrs --xattrs-include='*' --numeric-owner -cpf - . |
		tar -C "$work/minimal" --xattrs --xattrs-include='*' --numeric-owner -xpf -
	rm -rf "$work/minimal/var/lib/apt/lists/"* "$work/minimal/var/cache/apt/"*.bin "$work/minimal/var/cache/apt/archives/"*.deb
fi
SNAP
chmod +x "${WORK}/snapshot.sh"

# One initramfs, made once and small. Debian makes it twice in one
# installation (the kernel's postinst runs update-initramfs -c, then
# initramfs-tools' trigger runs -u for the hooks udev, kmod and others
# install), each with MODULES=most: a shell loop over nearly every module
# of the kernel, 10 to 18 minutes a run on this machine under load. The VM
# needs three modules to mount its root (virtio_pci, virtio_blk, ext4 and
# its crc32c); the rest load from the root file system once it is mounted.
# So update-initramfs is diverted to a no-op while packages install, and
# initramfs.sh restores it and runs mkinitramfs once with a copy of the
# image's configuration set to MODULES=list and those modules. The image's
# own /etc/initramfs-tools stays Debian's (MODULES=most): an
# update-initramfs inside the VM makes Debian's usual one.
cat >"${WORK}/initramfs-off.sh" <<'OFF'
#!/bin/sh
set -eu
r="$1"
chroot "$r" dpkg-divert --local --rename --divert /usr/sbin/update-initramfs.berth --add /usr/sbin/update-initramfs
printf '#!/bin/sh\n# berth test-node-image: made once, at the end\nexit 0\n' >"$r/usr/sbin/update-initramfs"
chmod 755 "$r/usr/sbin/update-initramfs"
OFF
cat >"${WORK}/initramfs.sh" <<'ON'
#!/bin/sh
set -eu
r="$1"
rm "$r/usr/sbin/update-initramfs"
chroot "$r" dpkg-divert --local --rename --divert /usr/sbin/update-initramfs.berth --remove /usr/sbin/update-initramfs
conf=/tmp/berth-initramfs
cp -a "$r/etc/initramfs-tools" "$r$conf"
sed -i 's/^MODULES=.*/MODULES=list/' "$r$conf/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic crc32c_intel >>"$r$conf/modules"
for v in $(chroot "$r" linux-version list); do
	chroot "$r" mkinitramfs -d "$conf" -o "/boot/initrd.img-$v" "$v"
done
rm -rf "$r$conf"
ON
chmod +x "${WORK}/initramfs-off.sh" "${WORK}/initramfs.sh"

include="$(
	IFS=,
	echo "${PACKAGES[*]}"
)"
log "building the ${SUITE} root filesystems from ${SOURCE_FILES[*]}"
# The minimal tree is copied out before apparmor is installed into the
# same chroot: one download and one package installation for both. dpkg
# runs under eatmydata (mmdebstrap's hook: it fetches eatmydata from the
# same mirror and removes it again; the image does not keep it): dpkg's
# fsync per file is most of an installation's time on a busy disk and buys
# nothing for a tree that is packed into an image afterwards. Each output
# line carries the seconds since the start, so the log shows where the
# time goes.
mmdebstrap --variant=minbase --format=directory --include="${include}" \
	--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
	--essential-hook="${WORK}/initramfs-off.sh \"\$1\"" \
	--customize-hook="${WORK}/initramfs.sh \"\$1\"" \
	--customize-hook="copy-in ${WORK}/berth-node.service /tmp" \
	--customize-hook="${WORK}/setup.sh \"\$1\"" \
	--customize-hook="${WORK}/snapshot.sh \"\$1\" minimal" \
	--customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends apparmor' \
	--customize-hook="${WORK}/snapshot.sh \"\$1\" apparmor" \
	"${SUITE}" "${WORK}/apparmor" "${SOURCE_FILES[@]}" 2>&1 |
	while IFS= read -r line; do printf '[%4d s] %s\n' "$((SECONDS - start))" "${line}"; done >&2
log "root filesystems built in $((SECONDS - start)) s"

# The kernel and initramfs boot both images (qemu -kernel/-initrd): the
# initramfs carries virtio_pci, virtio_blk and ext4 (initramfs.sh).
cp -L "${WORK}/minimal/vmlinuz" "${DIR}/vmlinuz"
cp -L "${WORK}/minimal/initrd.img" "${DIR}/initrd.img"
for v in minimal apparmor; do
	log "${v}.img: mke2fs -d at $((SECONDS - start)) s"
	mke2fs -q -t ext4 -L berth-root -E root_owner=0:0 -d "${WORK}/${v}" "${DIR}/${v}.img" "${IMAGE_SIZE}"
	cp "${WORK}/packages-${v}.txt" "${DIR}/packages-${v}.txt"
done
echo "built in $((SECONDS - start)) s on $(date -u +%FT%TZ)" >"${DIR}/done"
log "images built in $((SECONDS - start)) s: ${DIR}"
echo "${DIR}"
