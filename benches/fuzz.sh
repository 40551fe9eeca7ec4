#!/bin/sh
# Runs the fuzz targets in benches/fuzz (cargo-fuzz on the nightly toolchain), each in turn, for at most SECONDS
# or RUNS executions, and prints executions per second and what was found.
#   benches/fuzz.sh [SECONDS] [TARGET...]          (default 300 s each, every target)
# FUZZ_RUNS (default 10000000) bounds the executions; FUZZ_TARGET_DIR the build (default benches/fuzz/target);
# FUZZ_SANITIZER (default none) picks cargo-fuzz's sanitizer: the parsers are safe Rust, so libFuzzer's coverage
# with panics, its RSS limit (2 GiB) and its timeout find what they can break,
# and an AddressSanitizer build of arrow and parquet takes far longer (`FUZZ_SANITIZER=address` for one).
# Corpora grow in benches/fuzz/corpus/TARGET (seeded from benches/fuzz/seeds and the store's fixtures), logs go to
# benches/fuzz/logs/TARGET.log; a crash is saved in benches/fuzz/artifacts/TARGET and reproduced with
# `cargo +nightly fuzz run --fuzz-dir benches/fuzz -O -s none TARGET FILE`. Needs `cargo install cargo-fuzz`.
set -eu
secs=${1:-300}
[ $# -gt 0 ] && shift
here=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
fuzz="$here/benches/fuzz"
fixtures="$here/stabmon-store/tests/fixtures"
targets=${*:-journal manifest segment http_head remote_manifest}
runs=${FUZZ_RUNS:-10000000}
san=${FUZZ_SANITIZER:-none}
tdir=${FUZZ_TARGET_DIR:-$fuzz/target}
cd "$here"
cargo +nightly fuzz build --fuzz-dir "$fuzz" --target-dir "$tdir" -O -s "$san"

seed() {
    c="$fuzz/corpus/$1"
    mkdir -p "$c"
    case $1 in
    journal) for f in "$fixtures"/journal-v*/*.journal; do cp "$f" "$c/$(basename "$(dirname "$f")").journal"; done ;;
    manifest | remote_manifest) cp "$fuzz"/seeds/manifest/*.json "$c/" ;;
    segment)
        # The first byte picks the table the rest replaces (0 samples, 1 processes, 2 names, 3 latency).
        # (`tbl`, not `t`: sh has no local variables, and the caller loops over `t`.)
        i=0
        for tbl in samples processes names; do
            for f in "$fixtures"/store-v*/"$tbl"/host=nas/*/*.parquet; do
                v=$(echo "$f" | sed 's|.*/store-\(v[0-9]*\)/.*|\1|')
                { printf "\\00$i"; cat "$f"; } >"$c/$tbl-$v.parquet"
            done
            i=$((i + 1))
        done
        ;;
    http_head)
        printf 'GET /data/manifest.json HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n\r\n' >"$c/get"
        printf 'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' >"$c/post"
        printf 'HEAD /?from=2026-11-25T03:00:00Z&host=nas HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n' >"$c/head"
        ;;
    esac
}

for t in $targets; do
    seed "$t"
    mkdir -p "$fuzz/artifacts/$t"
    mkdir -p "$fuzz/logs"
    log="$fuzz/logs/$t.log"
    status=0
    cargo +nightly fuzz run --fuzz-dir "$fuzz" --target-dir "$tdir" -O -s "$san" "$t" "$fuzz/corpus/$t" -- \
        -max_total_time="$secs" -runs="$runs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$fuzz/artifacts/$t/" >"$log" 2>&1 || status=$?
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
    execs=$(grep -E 'stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
    secs_run=$(grep -E 'stat::average_exec_per_sec' "$log" | tail -n 1 | awk '{print $2}')
    cov=$(grep -E '#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    if [ "$status" -eq 0 ]; then found="no crash"; else found="CRASH (exit $status), see $log and $fuzz/artifacts/$t"; fi
    echo "$t: ${execs:-?} executions, ${secs_run:-?} exec/s, coverage ${cov:-?}, corpus $(ls "$fuzz/corpus/$t" | wc -l) inputs, findings: $found ${done_line:+($done_line)}"
    # Panics inside the parquet crate that the store contained (the segment skipped with a warning), each place once.
    grep '^contained panic' "$log" | sort -u || true
done
