#!/usr/bin/env bash
# Real recording soak: runs the release `stabmon record` at 1 s with top 10 while about 1,000 processes exist, then
# reports bytes on disk per recorded second, the recorder's peak RSS (see soak_lib.sh) and the lateness of each sample against
# its tick (p50/p99/max).
#
#   bash benches/record_soak.sh            # 10 minutes, the figure in BENCHMARKS.md
#   SOAK=5m PROCS=1000 bash benches/record_soak.sh
#   KEEP=/tmp/soak bash benches/record_soak.sh   # keep the recorded data directory for inspection
#
# Needs python3 (for the percentiles). Sends no network traffic. Children are killed on exit.
set -euo pipefail

SOAK=${SOAK:-10m}
PROCS=${PROCS:-1000}
SAMPLER=${SAMPLER:-auto}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cargo build --release -q -p stabmon-cli
bin="$root/target/release/stabmon"
. "$root/benches/soak_lib.sh"
soak_setup stabmon-soak
start_sleepers "$PROCS"

spawn_recorder rec "$bin" record --data "$data/rec" --interval 1s --top 10 --duration "$SOAK" --sampler "$SAMPLER" \
    2>"$data/record.log"
rec=$spawned
# Polled only without GNU time (see poll_peak): each poll starts processes the recorder records.
while [ ! -x /usr/bin/time ] && { kill -0 "$rec" 2>/dev/null; }; do
    poll_peak rec "$rec"
    sleep 1
done
wait "$rec"
hwm_kb=$(peak_kib rec)

bytes=$(find "$data/rec" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
pq_bytes=$(find "$data/rec" -type f -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
if [ -n "${KEEP:-}" ]; then cp -r "$data/rec" "$KEEP"; fi
"$bin" dump --data "$data/rec" --format json >"$data/dump.jsonl"
python3 - "$data/dump.jsonl" "$bytes" "$hwm_kb" "$SOAK" "$SAMPLER" "$pq_bytes" <<'EOF'
import json, sys
path, size, hwm_kb, soak, sampler, pq_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
lat = []
first = last = None
for line in open(path):
    s = json.loads(line)
    l = s["lateness"]
    lat.append(l["secs"] * 1000 + l["nanos"] / 1e6)
    first = first or s["ts"]
    last = s["ts"]
n = len(lat)
lat.sort()
pct = lambda q: lat[min(n - 1, int(q * n))]
print(f"soak {soak}, sampler {sampler}: {n} samples from {first} to {last}")
print(f"bytes on disk: {size} = {size / n:.1f} B per recorded second = {size / n * 86400 / 1e6:.2f} MB/day")
print(f"  of which Parquet segments: {pq_size} = {pq_size / n:.1f} B per recorded second (the rest: manifest, lock)")
print(f"peak RSS: {hwm_kb / 1024:.1f} MiB")
print(f"lateness: p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms, max {lat[-1]:.2f} ms")
EOF
