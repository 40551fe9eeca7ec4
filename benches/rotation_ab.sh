#!/bin/sh
# Sampling lateness across a rotation under a CPU storm, compaction on the worker thread against compaction on the
# sampling thread (`RecorderOptions::compact_inline`), the same release build, run alternately in one go.
#   benches/rotation_ab.sh [ROUNDS]
# ROTATION_PROCESSES, ROTATION_HOURS, ROTATION_SECS and ROTATION_STORM are passed on (see
# benches/benches/rotation_lateness.rs). The runs use `stabmon record`'s glibc malloc thresholds (GLIBC_TUNABLES);
# ROTATION_TUNABLES adds to them.
set -eu
rounds=${1:-1}
here=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/rotation-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ROTATION_DIR="$work"
export GLIBC_TUNABLES="glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=131072${ROTATION_TUNABLES:+:$ROTATION_TUNABLES}"
cd "$here"
cargo bench -p stabmon-benches --bench rotation_lateness --no-run
i=0
while [ "$i" -lt "$rounds" ]; do
    ROTATION_INLINE=1 cargo bench -q -p stabmon-benches --bench rotation_lateness
    ROTATION_INLINE=0 cargo bench -q -p stabmon-benches --bench rotation_lateness
    i=$((i + 1))
done
