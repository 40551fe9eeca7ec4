#!/bin/sh
# Sampling lateness across an hourly rotation under a CPU storm: the release at OLD (default 894ff4d, compaction
# on the sampling thread) and this tree, built side by side and run alternately in one go.
#   benches/rotation_ab.sh [OLD] [ROUNDS]
# ROTATION_PROCESSES, ROTATION_SECS and ROTATION_STORM are passed on (see benches/benches/rotation_lateness.rs).
set -eu
old=${1:-894ff4d}
rounds=${2:-1}
here=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/rotation-ab.XXXXXX")
mkdir -p "$work/old" "$work/data"
git -C "$here" archive "$old" | tar -x -C "$work/old"
cp "$here/benches/benches/rotation_lateness.rs" "$work/old/benches/benches/"
grep -q 'name = "rotation_lateness"' "$work/old/benches/Cargo.toml" ||
    printf '\n[[bench]]\nname = "rotation_lateness"\nharness = false\n' >>"$work/old/benches/Cargo.toml"
# One target directory for both: the dependencies are built once.
export CARGO_TARGET_DIR="${ROTATION_TARGET_DIR:-$work/target}"
export ROTATION_DIR="$work/data"
for tree in "$work/old" "$here"; do
    (cd "$tree" && cargo bench -p stabmon-benches --bench rotation_lateness --no-run)
done
i=0
while [ "$i" -lt "$rounds" ]; do
    (cd "$work/old" && ROTATION_LABEL="old $old" cargo bench -q -p stabmon-benches --bench rotation_lateness)
    (cd "$here" && ROTATION_LABEL="new $(git -C "$here" rev-parse --short HEAD)" \
        cargo bench -q -p stabmon-benches --bench rotation_lateness)
    i=$((i + 1))
done
rm -rf "$work/old" "$work/data"
echo "build artefacts left in $CARGO_TARGET_DIR (remove when done)"
