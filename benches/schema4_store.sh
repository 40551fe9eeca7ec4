#!/usr/bin/env bash
# Writes the answers bench's synthetic store of DAYS days in schema 4, the format an upgrading user's history is in,
# with the writer of the last schema-4 commit (894ff4d), so that today's reader can be timed on it beside today's
# format:
#
#   bash benches/schema4_store.sh DIR 7
#   cargo bench -p stabmon-benches --bench answers -- --days 7 --keep DIR --runs 3
#
# It checks that commit out in a worktree under $TMPDIR (or /tmp), adds an example there holding a copy of the
# bench's generator (`synth()` of benches/benches/answers.rs, whose builder calls that commit's `Synth` has too),
# and builds it in release (a cold build: ~10 minutes on 2 cores). Nothing is committed; the worktree is removed at
# the end. Sends no network traffic but what cargo needs to fetch that commit's crates.
set -euo pipefail
dir=${1:?usage: schema4_store.sh DIR DAYS}
days=${2:?usage: schema4_store.sh DIR DAYS}
root=$(cd "$(dirname "$0")/.." && pwd)
rev=894ff4d
wt=$(mktemp -d "${TMPDIR:-/tmp}/stabmon-schema4.XXXXXX")
cleanup() { git -C "$root" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"; }
trap cleanup EXIT
git -C "$root" worktree add -q --detach "$wt" "$rev"
mkdir -p "$wt/stabmon-store/examples"
{
    echo '//! Writes the answers bench'"'"'s synthetic store of DAYS days to DIR with this tree'"'"'s writer.'
    echo 'use std::time::Duration;'
    echo 'use stabmon_core::Timestamp;'
    echo 'use stabmon_core::synth::Synth;'
    grep -m1 'const START' "$root/benches/benches/answers.rs" | sed 's/^ *//'
    # The generator, from its doc comment's end to its closing brace, unindented.
    sed -n '/^    fn synth(days: u64) -> Synth {/,/^    }/p' "$root/benches/benches/answers.rs" | sed 's/^    //'
    cat <<'RS'
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DIR"));
    let days: u64 = args.next().expect("DAYS").parse().expect("DAYS is a number");
    let mut w = stabmon_store::StoreWriter::create(&dir).expect("create the store");
    let mut n = 0u64;
    for s in synth(days).iter() {
        w.write(&s).expect("write a sample");
        n += 1;
    }
    w.finish().expect("finish the store");
    println!("wrote {n} samples in schema 4 to {}", dir.display());
}
RS
} >"$wt/stabmon-store/examples/schema4_store.rs"
(cd "$wt" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$wt/target}" cargo build -q --release -p stabmon-store --example schema4_store)
"${CARGO_TARGET_DIR:-$wt/target}/release/examples/schema4_store" "$dir" "$days"
