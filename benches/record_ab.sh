#!/usr/bin/env bash
# Two recorders side by side: runs two `stabmon record` binaries at the same time on the same machine (same load,
# same processes, 1 s, top 10) and compares bytes on disk per table and the peak RSS of each, so that a change of
# format or sampler is measured as a ratio in one run (the machine is noisy; separate runs see different loads).
#
#   A=/path/to/old/stabmon B=target/release/stabmon bash benches/record_ab.sh     # 10 minutes
#   SOAK=60m PROCS=1000 KEEP=/tmp/ab A=... B=... bash benches/record_ab.sh       # keep both data directories
#   SOAK=60m ARGS='--rotate 24h' A=... B=... bash benches/record_ab.sh          # more record flags for both: one
#                                                                               # journal compacted at the stop
#   A=none B=... bash benches/record_ab.sh                                      # B alone: what one recorder writes
#   STORM=1000 SOAK=5m A=... B=... bash benches/record_ab.sh                    # and a fork storm: /bin/true
#                                                                               # started STORM times a second (or
#                                                                               # as fast as it can, reported)
#
# Two recorders on one box see each other: both wake at the same tick and compete for the CPU, so each records
# the other's CPU, its lateness and the CPU pressure it causes. A=none measures the ordinary case, one recorder.
#
# B defaults to this checkout's release build; A must be given (for example a build of an older commit:
# `git worktree add /tmp/old <rev> && CARGO_TARGET_DIR=/tmp/old-target cargo build --release -p stabmon-cli`).
# Needs python3 with pyarrow (for the per-table figures). Sends no network traffic. Children are killed on exit.
# Each recorder's CPU per sample is its user + system CPU over the run (GNU time's) over its samples.
set -euo pipefail

SOAK=${SOAK:-10m}
PROCS=${PROCS:-1000}
read -r -a args <<<"${ARGS:-}"
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${A:?set A to the first stabmon binary}"
if [ -z "${B:-}" ]; then
    cargo build --release -q -p stabmon-cli
    B="$root/target/release/stabmon"
fi
. "$root/benches/soak_lib.sh"
soak_setup stabmon-ab
start_sleepers "$PROCS"
if [ -n "${STORM:-}" ]; then
    # Two spawners (two cores), each at half the rate, pacing themselves; each writes how many it started.
    for k in 1 2; do
        python3 -c '
import os, sys, time
rate, out = float(sys.argv[1]) / 2, sys.argv[2]
t0, n = time.monotonic(), 0
while True:
    pid = os.posix_spawn("/bin/true", ["true"], os.environ)
    os.waitpid(pid, 0)
    n += 1
    if n % 100 == 0:
        with open(out, "w") as f:
            f.write(f"{n} {time.monotonic() - t0}\n")
    ahead = n / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
' "$STORM" "$data/storm.$k" &
        pids+=($!)
    done
fi

if [ "$A" = none ]; then
    mkdir -p "$data/a"
    ra=0
else
    spawn_recorder a "$A" record --data "$data/a" --interval 1s --top 10 --duration "$SOAK" ${args[@]+"${args[@]}"} \
        2>"$data/a.log"
    ra=$spawned
fi
spawn_recorder b "$B" record --data "$data/b" --interval 1s --top 10 --duration "$SOAK" ${args[@]+"${args[@]}"} \
    2>"$data/b.log"
rb=$spawned
# Polling is the fallback without GNU time: each poll starts a few processes (awk, cat, sleep) whose exits the
# recorders would record as the machine's (about 6 a second, which weighs in the journal's bytes).
while [ ! -x /usr/bin/time ] && { { [ "$ra" != 0 ] && kill -0 "$ra" 2>/dev/null; } || kill -0 "$rb" 2>/dev/null; }; do
    [ "$ra" = 0 ] || poll_peak a "$ra"
    poll_peak b "$rb"
    sleep 1
done
if [ "$ra" = 0 ]; then
    wait "$rb"
    ha=0
else
    wait "$ra" "$rb"
    ha=$(peak_kib a)
fi
hb=$(peak_kib b)
ca=0
[ "$ra" = 0 ] || ca=$(cpu_secs a)
cb=$(cpu_secs b)
if [ -n "${STORM:-}" ]; then
    cat "$data"/storm.* | awk '{n += $1; t = $2 > t ? $2 : t} END {printf "fork storm: %d exits in %.0f s, %.0f a second\n", n, t, n / t}'
fi
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$data/a" "$data/b" "$KEEP"/; fi
python3 - "$data" "$ha" "$hb" "$SOAK" "$ca" "$cb" <<'EOF'
import glob, os, sys
import pyarrow.parquet as pq
data, ha, hb, soak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ca, cb = float(sys.argv[5]), float(sys.argv[6])
rows = {}
for side in "ab":
    n = sum(pq.ParquetFile(f).metadata.num_rows for f in glob.glob(f"{data}/{side}/samples/**/*.parquet", recursive=True))
    tables = {}
    for t in ["samples", "processes", "names", "latency", "exits"]:
        tables[t] = sum(os.path.getsize(f) for f in glob.glob(f"{data}/{side}/{t}/**/*.parquet", recursive=True))
    # Everything in the data directory: the Parquet files, manifest.json and the lock file; not the spare journal
    # file (_journal/spare, a compacted journal's file kept for the next one to write into, not data).
    spare = os.path.join(data, side, "_journal", "spare")
    tables["all files"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(f"{data}/{side}") for f in fs
                              if os.path.join(d, f) != spare)
    rows[side] = (n, tables)
print(f"side by side for {soak}: A {rows['a'][0]} samples, B {rows['b'][0]} samples")
print(f"{'table':<10} {'A bytes':>10} {'A B/s':>7} {'B bytes':>10} {'B B/s':>7} {'B/A':>6}")
parquet = ["samples", "processes", "names", "latency", "exits"]
for t in parquet + ["parquet", "all files"]:
    va = sum(rows["a"][1][p] for p in parquet) if t == "parquet" else rows["a"][1][t]
    vb = sum(rows["b"][1][p] for p in parquet) if t == "parquet" else rows["b"][1][t]
    if t in ("latency", "exits") and va == vb == 0:
        continue
    na, nb = max(rows["a"][0], 1), max(rows["b"][0], 1)
    if rows["a"][0] == 0:  # A=none: B alone
        print(f"{t:<10} {'-':>10} {'-':>7} {vb:>10} {vb / nb:>7.1f} {'-':>6}")
    else:
        print(f"{t:<10} {va:>10} {va / na:>7.1f} {vb:>10} {vb / nb:>7.1f} {vb / max(va, 1):>6.2f}")
print(f"peak RSS: A {ha / 1024:.1f} MiB, B {hb / 1024:.1f} MiB")
na, nb = max(rows["a"][0], 1), max(rows["b"][0], 1)
ratio = f", B/A {(cb / nb) / (ca / na):.2f}" if ca > 0 else ""
print(f"CPU per sample: A {ca * 1e3 / na:.2f} ms, B {cb * 1e3 / nb:.2f} ms{ratio}")
try:
    counts = pq.read_table(f"{data}/b/samples", columns=["exit_count", "exit_dropped"]).to_pydict()
    c = [x for x in counts["exit_count"] if x is not None]
    d = [x for x in counts["exit_dropped"] if x is not None]
    if c:
        print(f"B recorded exits: {sum(c)} ({sum(c) / len(c):.0f} a sample, at most {max(c)}), kernel drops {sum(d)}")
except Exception as e:  # a store without exit counts
    print(f"B recorded no exit counts ({e})")
EOF
