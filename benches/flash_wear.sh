#!/bin/sh
# Flash wear at the block layer: for each sync period, a small ext4 image of its own under /tmp on a loop device
# (losetup), mounted in a mount namespace of its own (unshare -m), the recorder writing into it in real time; the
# device's sectors written against the floor of one 4 KiB page per sync. The periods run side by side. Root only;
# the loop devices and images are removed whatever happens.
#   benches/flash_wear.sh [SECONDS] [SYNC...]      (default 300 s; 1s 5s 30s)
# FLASH_MOUNT_OPTS adds mount options (such as lazytime); FLASH_BARE=append, overwrite or idle runs a bare writer instead
# of the recorder; FLASH_ROTATE=120s rotates the journal that often, and FLASH_WARM=SECONDS waits that long before the
# window; FLASH_ONE_ROTATION=1 measures one hourly rotation alone (see benches/benches/flash_wear.rs).
#
# FLASH_BINS="OLD NEW" runs `stabmon record` of each of these binaries instead, side by side (this machine's own
# processes, 1 s interval, top 10, no latency target), each in an image of its own, at the first SYNC, with
# FLASH_ARGS added (such as `--rotate 2m`, so that the window holds rotations: each rotation starts a journal and
# compacts the last one); the window of SECONDS starts after FLASH_WARM seconds (default 300), so that the first
# journals are made before it. Each recorder's journal directory is listed after its stop.
set -eu
secs=${1:-300}
[ $# -gt 0 ] && shift
syncs=${*:-1s 5s 30s}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
work=$(mktemp -d "${TMPDIR:-/tmp}/flash-wear.XXXXXX")
devs=""
cleanup() {
    for d in $devs; do losetup -d "$d" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# image NAME: a 256 MiB ext4 image on a loop device, its mount point made; sets $dev.
image() {
    truncate -s 256M "$work/$1.img"
    # 4 KiB blocks, as on a real disk (mke2fs picks 1 KiB for an image this small).
    # Inode tables and the journal zeroed now, not by ext4lazyinit in the background during the window.
    mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$work/$1.img"
    dev=$(losetup -f --show "$work/$1.img")
    devs="$devs $dev"
    mkdir "$work/$1.mnt"
}

sectors() { awk '{print $7}' "/sys/block/$(basename "$1")/stat"; }

if [ -n "${FLASH_BINS:-}" ]; then
    warm=${FLASH_WARM:-300}
    sync=${syncs%% *}
    n=0
    for bin in $FLASH_BINS; do
        n=$((n + 1))
        image "bin$n"
        echo "$bin $dev" >"$work/bin$n.which"
        unshare -m --propagation private sh -c "mount ${FLASH_MOUNT_OPTS:+-o $FLASH_MOUNT_OPTS} $dev $work/bin$n.mnt && \
            $bin record --data $work/bin$n.mnt/data --sync $sync --duration $((warm + secs + 5))s ${FLASH_ARGS:-} \
            >$work/bin$n.log 2>&1; ls -l $work/bin$n.mnt/data/_journal $work/bin$n.mnt/data/_journal/*/; \
            umount $work/bin$n.mnt" >"$work/bin$n.out" 2>&1 &
    done
    sleep "$warm"
    for k in $(seq 1 $n); do sectors "$(awk '{print $2}' "$work/bin$k.which")" >"$work/bin$k.before"; done
    sleep "$secs"
    for k in $(seq 1 $n); do sectors "$(awk '{print $2}' "$work/bin$k.which")" >"$work/bin$k.after"; done
    wait
    s=${sync%s}
    for k in $(seq 1 $n); do
        bytes=$(( ($(cat "$work/bin$k.after") - $(cat "$work/bin$k.before")) * 512 ))
        awk -v b="$bytes" -v t="$secs" -v s="$s" -v bin="$(awk '{print $1}' "$work/bin$k.which")" 'BEGIN {
            syncs = t / s
            printf "%s, sync %ss: %d s, %d syncs: device %d B (%.0f B a sync, %.2fx the floor of 4 KiB a sync), %.0f MB a day\n",
                bin, s, t, syncs, b, b / syncs, b / (syncs * 4096), b / t * 86400 / 1e6
        }'
        cat "$work/bin$k.out"
        tail -n 3 "$work/bin$k.log"
    done
    echo "args: ${FLASH_ARGS:-none}; ext4 with 4 KiB blocks, options: ${FLASH_MOUNT_OPTS:-defaults} ($(uname -r))," \
        "256 MiB image on a loop device; window of $secs s after $warm s"
    exit 0
fi

# Device bytes, not speed: the quick dev build will do.
cargo bench --profile dev -q -p stabmon-benches --bench flash_wear --no-run
for s in $syncs; do
    image "$s"
    FLASH_BARE=${FLASH_BARE:-} FLASH_DIR="$work/$s.mnt/data" FLASH_DEV=$(basename "$dev") FLASH_SYNC=$s FLASH_SECS=$secs \
        unshare -m --propagation private sh -c "mount ${FLASH_MOUNT_OPTS:+-o $FLASH_MOUNT_OPTS} $dev $work/$s.mnt && \
        cargo bench --profile dev -q -p stabmon-benches --bench flash_wear; umount $work/$s.mnt" >"$work/$s.out" 2>&1 &
done
wait
for s in $syncs; do cat "$work/$s.out"; done
echo "ext4 with 4 KiB blocks, options: ${FLASH_MOUNT_OPTS:-defaults} ($(uname -r)), 256 MiB image on a loop device"
