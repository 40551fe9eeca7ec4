#!/bin/sh
# Flash wear at the block layer: for each sync period, a small ext4 image of its own under /tmp on a loop device
# (losetup), mounted in a mount namespace of its own (unshare -m), the recorder writing into it in real time; the
# device's sectors written against the floor of one 4 KiB page per sync. The periods run side by side. Root only;
# the loop devices and images are removed whatever happens.
#   benches/flash_wear.sh [SECONDS] [SYNC...]      (default 300 s; 1s 5s 30s)
# FLASH_MOUNT_OPTS adds mount options (such as lazytime); FLASH_BARE=append, overwrite or idle runs a bare writer instead
# of the recorder (see benches/benches/flash_wear.rs).
set -eu
secs=${1:-300}
[ $# -gt 0 ] && shift
syncs=${*:-1s 5s 30s}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
# Device bytes, not speed: the quick dev build will do.
cargo bench --profile dev -q -p stabmon-benches --bench flash_wear --no-run
work=$(mktemp -d "${TMPDIR:-/tmp}/flash-wear.XXXXXX")
devs=""
cleanup() {
    for d in $devs; do losetup -d "$d" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
for s in $syncs; do
    truncate -s 256M "$work/$s.img"
    # 4 KiB blocks, as on a real disk (mke2fs picks 1 KiB for an image this small).
    # Inode tables and the journal zeroed now, not by ext4lazyinit in the background during the window.
    mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$work/$s.img"
    dev=$(losetup -f --show "$work/$s.img")
    devs="$devs $dev"
    mkdir "$work/$s.mnt"
    FLASH_BARE=${FLASH_BARE:-} FLASH_DIR="$work/$s.mnt/data" FLASH_DEV=$(basename "$dev") FLASH_SYNC=$s FLASH_SECS=$secs \
        unshare -m --propagation private sh -c "mount ${FLASH_MOUNT_OPTS:+-o $FLASH_MOUNT_OPTS} $dev $work/$s.mnt && \
        cargo bench --profile dev -q -p stabmon-benches --bench flash_wear; umount $work/$s.mnt" >"$work/$s.out" 2>&1 &
done
wait
for s in $syncs; do cat "$work/$s.out"; done
echo "ext4 with 4 KiB blocks, options: ${FLASH_MOUNT_OPTS:-defaults} ($(uname -r)), 256 MiB image on a loop device"
