#!/usr/bin/env bash
# The recorder's peak RSS while it compacts a given hour: the samples of a recording (say, a real hour with
# process churn) are put back into a journal, as a crash would leave it, and `stabmon record --duration 3s` is
# started on a copy of it: it compacts the journal as it opens (the same code as the compaction at each rotation
# and at the stop), then samples the machine for 3 seconds. GNU time gives each run's maximum resident set size.
# Binaries A and B alternate, RUNS times each, so that they are compared as a ratio in one run.
#
#   REPLAY=/path/to/a/recording A=/path/to/old/stabmon B=target/release/stabmon bash benches/recovery_peak.sh
#
# The journal is made by the compaction bench (`COMPACTION_RECORD_ONLY`, `COMPACTION_REPLAY`). Sends no network
# traffic. B defaults to this checkout's release build.
set -euo pipefail

RUNS=${RUNS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${REPLAY:?set REPLAY to a stabmon data directory to replay}"
: "${A:?set A to the first stabmon binary}"
if [ -z "${B:-}" ]; then
    cargo build --release -q -p stabmon-cli
    B="$root/target/release/stabmon"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bench=$(cargo bench -q -p stabmon-benches --bench compaction --no-run --message-format=json |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "compaction" and m.get("executable"):
        print(m["executable"])')
COMPACTION_REPLAY="$REPLAY" COMPACTION_RECORD_ONLY="$work/journal" "$bench"
echo "journal of $REPLAY: $(du -sb "$work/journal/_journal" | cut -f1) bytes"

# Both binaries run from fresh copies: the code pages a process maps depend on how the file's page cache was
# filled (a just-written copy of the same binary peaked 1.2-1.5 MiB higher than one read back from disk here).
cp "$A" "$work/stabmon-A"
cp "$B" "$work/stabmon-B"
for i in $(seq "$RUNS"); do
    for which in A B; do
        bin="$work/stabmon-$which"
        rm -rf "$work/d" && cp -a "$work/journal" "$work/d"
        /usr/bin/time -o "$work/time" -f '%M' "$bin" record --data "$work/d" --duration 3s 2>"$work/log"
        grep -q "recovered" "$work/log" || { cat "$work/log"; echo "no recovery by $bin" >&2; exit 1; }
        echo "run $i $which: peak RSS $(cat "$work/time") KiB (${!which})"
    done
done
