#!/usr/bin/env bash
# Mail on vs off: two recorders of the same binary side by side (same load, same processes, 1 s, top 10), B with
# the digest and incident mail (at most one per $EVERY) sent to a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS
# with a self-signed certificate, login), and a webhook to a local HTTP server that answers 200; a CPU burner on
# every core for 40 s two minutes in (and every $BURST_EVERY seconds after, when set) gives B incidents to detect,
# render, mail and post, and B's digest falls due a minute in. Prints each recorder's CPU time per sample (user +
# system over the whole run, from GNU time) and peak RSS, and B/A.
#
#   B=target/release/stabmon bash benches/notify_ab.sh          # 5 minutes, at most one incident mail a minute
#   SOAK=30m EVERY=15m BURST_EVERY=300 B=... bash benches/notify_ab.sh   # the default limit, a burst every 5 min
#   SOAK=10m PROCS=1000 B=... bash benches/notify_ab.sh
#
# Needs GNU time (/usr/bin/time), openssl and python3 with aiosmtpd. Sends nothing beyond 127.0.0.1. Children are killed on exit.
set -euo pipefail

SOAK=${SOAK:-5m}
PROCS=${PROCS:-1000}
EVERY=${EVERY:-1m}
BURST_EVERY=${BURST_EVERY:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. "$root/benches/soak_lib.sh"
on_off_setup stabmon-notify-ab

# The webhook: a local server that answers every POST with 200 and counts them.
port=$(free_port)
python3 - "$port" "$data/posts" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:
            f.write("post\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
pids+=($!)
digest_at=$(date -d '+1 minute' +%H:%M)

# The SMTP server: the mail tests' aiosmtpd wrapper, which writes each message it receives to $data/mail.
python3 -c 'import aiosmtpd' 2>/dev/null || { echo "needs python3 with aiosmtpd (pip install aiosmtpd)" >&2; exit 1; }
mkdir -p "$data/mail"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE \
    -keyout "$data/key.pem" -out "$data/cert.pem" 2>/dev/null
mkfifo "$data/smtp.in"
python3 "$root/stabmon-cli/tests/support/smtp_server.py" starttls "$data/cert.pem" "$data/key.pem" "$data/mail" \
    <"$data/smtp.in" >"$data/smtp.out" 2>"$data/smtp.err" &
pids+=($!)
exec 9>"$data/smtp.in" # the server stops when this closes
for _ in $(seq 100); do grep -q READY "$data/smtp.out" 2>/dev/null && break; sleep 0.1; done
smtp_port=$(awk '/READY/ {print $2}' "$data/smtp.out")
[ -n "$smtp_port" ] || { echo "the SMTP server did not start" >&2; exit 1; }

common=(record --interval 1s --top 10 --duration "$SOAK")
/usr/bin/time -f '%M %U %S' -o "$data/a.time" "$B" "${common[@]}" --data "$data/a" 2>"$data/a.log" &
ra=$!
pids+=($ra)
STABMON_SMTP_PASSWORD=s3cret /usr/bin/time -f '%M %U %S' -o "$data/b.time" "$B" "${common[@]}" --data "$data/b" \
    --smtp "smtp://stabmon@127.0.0.1:$smtp_port" --smtp-ca "$data/cert.pem" --mail-to ops@example.org \
    --incident-mail --incident-mail-every "$EVERY" --digest-at "$digest_at" \
    --webhook "http://127.0.0.1:$port/hook" 2>"$data/b.log" &
rb=$!
pids+=($rb)

# A burner on every core for 40 s, two minutes in, and every $BURST_EVERY seconds after while B records.
sleep 120
while :; do
    for _ in $(seq "$(nproc)"); do
        timeout 40 sh -c 'while :; do :; done' &
        pids+=($!)
    done
    [ -n "$BURST_EVERY" ] || break
    for _ in $(seq $((BURST_EVERY / 10))); do
        kill -0 "$rb" 2>/dev/null || break 2
        sleep 10
    done
done
wait "$ra" "$rb"
python3 - "$data" "$SOAK" <<'PY'
import re, sys
data, soak = sys.argv[1], sys.argv[2]
res = {}
for side in "ab":
    rss, user, sys_ = open(f"{data}/{side}.time").read().split()[-3:]
    log = open(f"{data}/{side}.log").read()
    n = int(re.search(r"recording stopped: (\d+) samples", log).group(1))
    res[side] = (int(rss), float(user) + float(sys_), n)
try:
    posts = len(open(f"{data}/posts").read().split())
except OSError:
    posts = 0
import os
mails = len([f for f in os.listdir(f"{data}/mail") if f.endswith(".json")])
print(f"side by side for {soak}; B sent {mails} mail(s) and posted {posts} time(s) to its webhook")
print(f"{'':<10} {'samples':>8} {'CPU s':>7} {'CPU/sample':>11} {'peak RSS':>10}")
for side, name in (("a", "mail off"), ("b", "mail on")):
    rss, cpu, n = res[side]
    print(f"{name:<10} {n:>8} {cpu:>7.2f} {cpu / n * 1000:>8.2f} ms {rss / 1024:>6.1f} MiB")
(ra, ca, na), (rb, cb, nb) = res["a"], res["b"]
print(f"B/A: CPU per sample {(cb / nb) / (ca / na):.2f}x, peak RSS {(rb - ra) / 1024:+.1f} MiB")
PY
grep -h "notify" "$data/b.log" >&2 || true
