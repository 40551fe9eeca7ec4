#!/usr/bin/env bash
# Load on `stabmon serve`, on loopback only: 200 concurrent clients for 30 s, half on `/` (the live report), half
# on `/data/...` (manifest.json and a segment file, as a remote `stabmon report` fetches them), each a new
# connection per request. A `stabmon record` at 200 ms runs beside the server, first idle, then under the load.
# Reports requests served, 503s, other failures, the server's peak RSS (VmHWM) and the recorder's sample lateness
# (p50/p99/max), idle against loaded.
#
#   bash benches/serve_load.sh                      # the figures in BENCHMARKS.md
#   CLIENTS=50 SECS=10 bash benches/serve_load.sh
#
# Needs python3 (the client and the percentiles). Sends nothing beyond 127.0.0.1. Children are killed on exit.
set -euo pipefail

CLIENTS=${CLIENTS:-200}
SECS=${SECS:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${STABMON_BIN:-$root/target/release/stabmon}
if [ -z "${STABMON_BIN:-}" ]; then (cd "$root" && cargo build --release -q -p stabmon-cli); fi
work=$(mktemp -d /tmp/stabmon-serve-load.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Data to serve: two hours recorded by the real recorder is too slow to make; record 20 s at 100 ms, which gives
# a real manifest, segments and a report with every chart.
"$bin" record --data "$work/served" --interval 100ms --rotate 10s --duration 20s 2>/dev/null
segment=$(cd "$work/served" && find samples -name '*.parquet' | head -n 1)

"$bin" serve --data "$work/served" --bind 127.0.0.1:0 2>"$work/serve.log" &
srv=$!
pids+=($srv)
for _ in $(seq 50); do grep -q 'at http://' "$work/serve.log" && break; sleep 0.1; done
addr=$(sed -n 's|.* at http://\([^/]*\)/ .*|\1|p' "$work/serve.log" | head -n 1)
echo "server at $addr, pid $srv, segment $segment" >&2

# The recorder beside it: idle for SECS, then loaded for SECS.
"$bin" record --data "$work/rec" --interval 200ms --duration "$((2 * SECS + 2))s" 2>/dev/null &
rec=$!
pids+=($rec)
t0=$(date +%s.%N)
sleep "$SECS"
t1=$(date +%s.%N)

python3 - "$addr" "$CLIENTS" "$SECS" "$segment" >"$work/load.txt" <<'PY'
import socket, sys, threading, time, collections
addr, clients, secs, segment = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
host, port = addr.rsplit(":", 1)
counts = collections.Counter()
lock = threading.Lock()
targets_view = ["/", "/?since=30m", "/?since=5m"]
targets_data = ["/data/manifest.json", "/data/" + segment]
def client(i):
    end = time.time() + secs
    n = 0
    while time.time() < end:
        t = (targets_view if i % 2 == 0 else targets_data)[n % 2 if i % 2 else n % 3]
        n += 1
        try:
            s = socket.create_connection((host, int(port)), timeout=70)
            s.sendall(f"GET {t} HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode())
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            s.close()
            status = data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "none"
            kind = "view" if t.startswith("/?") or t == "/" else "data"
            with lock:
                counts[(kind, status)] += 1
            if status == "503":
                time.sleep(0.2)
        except Exception as e:
            with lock:
                counts[("error", type(e).__name__)] += 1
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
for (kind, status), n in sorted(counts.items()):
    print(f"{kind} {status} {n}")
PY
t2=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$srv/status)
wait "$rec" || true
echo "== requests ($CLIENTS clients, ${SECS}s): kind status count" 
cat "$work/load.txt"
echo "== server peak RSS (VmHWM): $((hwm / 1024)) MiB"
"$bin" dump --data "$work/rec" | python3 -c '
import csv, sys
t0, t1, t2 = map(float, sys.argv[1:4])
idle, loaded = [], []
for r in csv.DictReader(sys.stdin):
    r["lateness_ms"] = float(r["lateness_ms"])
    ts = r["ts"]
    from datetime import datetime
    t = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    (idle if t0 <= t < t1 else loaded if t1 <= t < t2 else []).append(r["lateness_ms"])
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")
for name, v in (("idle", idle), ("loaded", loaded)):
    print(f"== recorder lateness {name}: {len(v)} samples, p50 {pct(v,50):.2f} ms, p99 {pct(v,99):.2f} ms, max {max(v) if v else 0:.2f} ms")
' "$t0" "$t1" "$t2"
