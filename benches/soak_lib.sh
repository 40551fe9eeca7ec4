# Shared by the recording soaks (record_soak.sh, record_ab.sh); sourced after `set -euo pipefail`.
#
# soak_setup PREFIX   makes a scratch directory $data, and on exit kills the children listed in $pids and removes it
# start_sleepers N    starts `sleep` children until about N processes exist, so the top lists see a busy box
# on_off_setup PREFIX  for a bench of one binary B (built here if unset) run twice side by side, once with a feature
#                      on: checks for GNU time, then soak_setup PREFIX and start_sleepers $PROCS
# free_port            prints a free TCP port on 127.0.0.1
#
# The sleepers are this soak's children and end with it: a soak started while another runs counts the other's
# sleepers and starts fewer, so it sees fewer processes once the other ends.

soak_setup() {
    data=$(mktemp -d "/tmp/$1.XXXXXX")
    pids=()
    trap soak_cleanup EXIT
}

soak_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$data"
}

count_procs() { ls -d /proc/[0-9]* 2>/dev/null | wc -l; }

start_sleepers() {
    while [ "$(count_procs)" -lt "$1" ]; do
        sleep 7200 &
        pids+=($!)
    done
    echo "processes running: $(count_procs)" >&2
}

# spawn_recorder NAME CMD...   runs a recorder in the background; `peak_kib NAME` after it exited gives its peak RSS
# in KiB, and `cpu_secs NAME` its user + system CPU in seconds (GNU time's, else the last polled). With GNU time (/usr/bin/time, Debian package `time`) that is the kernel's maximum resident set size over
# the whole run, the compaction at the clean stop included; without it, VmHWM polled every second (which can miss
# the last second's compaction). Sets $spawned to the recorder's pid (or GNU time's).
spawn_recorder() {
    local name=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M %U %S' -o "$data/$name.maxrss" "$@" &
    else
        "$@" &
    fi
    spawned=$!
    echo 0 >"$data/$name.polled"
    echo 0 >"$data/$name.cpu"
}

# poll_peak NAME PID   records PID's VmHWM if it grew (for the fallback without GNU time; with it, callers do not
# poll: each poll starts a few processes, awk, cat and sleep, whose exits the recorders would record)
poll_peak() {
    local v
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$2/status" 2>/dev/null || true)
    if [ -n "${v:-}" ] && [ "$v" -gt "$(cat "$data/$1.polled")" ]; then echo "$v" >"$data/$1.polled"; fi
    v=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$2/stat" 2>/dev/null || true)
    if [ -n "${v:-}" ]; then echo "$v" >"$data/$1.cpu"; fi
}

peak_kib() {
    if [ -s "$data/$1.maxrss" ]; then tail -1 "$data/$1.maxrss" | awk '{print $1}'; else cat "$data/$1.polled"; fi
}

cpu_secs() {
    if [ -s "$data/$1.maxrss" ]; then tail -1 "$data/$1.maxrss" | awk '{print $2 + $3}'; else cat "$data/$1.cpu"; fi
}

on_off_setup() {
    if [ -z "${B:-}" ]; then
        cargo build --release -q -p stabmon-cli
        B="$root/target/release/stabmon"
    fi
    [ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 1; }
    soak_setup "$1"
    start_sleepers "$PROCS"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
