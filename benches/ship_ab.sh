#!/usr/bin/env bash
# Shipping on vs off: two recorders of the same binary side by side (same load, same processes, 1 s, top 10,
# a segment a minute so that there is something to ship all along), B with --ship to an S3 endpoint on 127.0.0.1.
# Prints each recorder's lateness (p50, p99, max: how late each sample was taken against its tick), peak RSS and
# CPU per sample, and B - A.
#
#   B=target/release/stabmon bash benches/ship_ab.sh                 # 10 minutes, an endpoint that never answers
#   ENDPOINT=moto SOAK=10m B=... bash benches/ship_ab.sh             # a working endpoint (moto's S3 server)
#
# ENDPOINT=silent (the default) is a listener that accepts every connection and never answers, so B's shipper
# keeps retrying for the whole run: the case where a recorder must not notice that the network is gone.
# Needs GNU time (/usr/bin/time) and python3 (with moto[server] for ENDPOINT=moto). Sends nothing beyond
# 127.0.0.1. Children are killed on exit.
set -euo pipefail

SOAK=${SOAK:-10m}
PROCS=${PROCS:-1000}
ENDPOINT=${ENDPOINT:-silent}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. "$root/benches/soak_lib.sh"
on_off_setup stabmon-ship-ab

port=$(free_port)
case "$ENDPOINT" in
silent)
    # Accepts and holds every connection, reads what comes, never writes a byte.
    python3 - "$port" <<'PY' &
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(128)
held = []
def drain(c):
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    held.append(c)
    threading.Thread(target=drain, args=(c,), daemon=True).start()
PY
    pids+=($!)
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
        sleep 0.2
    done
    ;;
moto)
    python3 -m moto.server -H 127.0.0.1 -p "$port" >"$data/moto.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
        sleep 0.2
    done
    python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$port/bench', method='PUT'))"
    ;;
*)
    echo "ENDPOINT is silent or moto, not $ENDPOINT" >&2
    exit 2
    ;;
esac

common=(record --interval 1s --top 10 --rotate 1m --duration "$SOAK")
spawn_recorder a "$B" "${common[@]}" --data "$data/a" 2>"$data/a.log"
ra=$spawned
pids+=($ra)
AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    spawn_recorder b "$B" "${common[@]}" --data "$data/b" --ship s3://bench/stabmon 2>"$data/b.log"
rb=$spawned
pids+=($rb)
# Polled only without GNU time (see poll_peak): each poll starts processes the recorder records.
while [ ! -x /usr/bin/time ] && { kill -0 "$ra" 2>/dev/null || kill -0 "$rb" 2>/dev/null; }; do
    poll_peak a "$ra"
    poll_peak b "$rb"
    sleep 1
done
wait "$ra" "$rb" || true
for side in a b; do
    "$B" dump --data "$data/$side" --format json >"$data/$side.jsonl"
done
python3 - "$data" "$SOAK" "$ENDPOINT" "$(peak_kib a)" "$(peak_kib b)" "$(cpu_secs a)" "$(cpu_secs b)" <<'PY'
import json, sys
data, soak, endpoint = sys.argv[1:4]
peak = {"a": int(sys.argv[4]), "b": int(sys.argv[5])}
cpu = {"a": float(sys.argv[6]), "b": float(sys.argv[7])}
res = {}
for side in "ab":
    lat = sorted(
        (s["lateness"]["secs"] * 1000 + s["lateness"]["nanos"] / 1e6)
        for s in map(json.loads, open(f"{data}/{side}.jsonl"))
    )
    n = len(lat)
    res[side] = (n, lat[n // 2], lat[min(n - 1, int(0.99 * n))], lat[-1])
log = open(f"{data}/b.log").read().splitlines()
ship_lines = [l for l in log if "shipping" in l]
print(f"side by side for {soak}, a segment a minute; B ships to an endpoint that is {endpoint}")
print(f"{'':<10} {'samples':>8} {'p50 late':>9} {'p99 late':>9} {'max late':>9} {'CPU/sample':>11} {'peak RSS':>9}")
for side, name in (("a", "no ship"), ("b", "--ship")):
    n, p50, p99, mx = res[side]
    print(f"{name:<10} {n:>8} {p50:>6.2f} ms {p99:>6.2f} ms {mx:>6.2f} ms {cpu[side] / n * 1000:>8.2f} ms "
          f"{peak[side] / 1024:>5.1f} MiB")
(na, _, pa, _), (nb, _, pb, _) = res["a"], res["b"]
print(f"B - A: p99 lateness {pb - pa:+.2f} ms, peak RSS {(peak['b'] - peak['a']) / 1024:+.1f} MiB, "
      f"CPU per sample {(cpu['b'] / nb) / (cpu['a'] / na):.2f}x")
print(f"B's shipping log lines ({len(ship_lines)}):")
for l in ship_lines[:6]:
    print("  " + l)
PY
