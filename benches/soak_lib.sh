# Shared by the recording soaks (record_soak.sh, record_ab.sh); sourced after `set -euo pipefail`.
#
# soak_setup PREFIX   makes a scratch directory $data, and on exit kills the children listed in $pids and removes it
# start_sleepers N    starts `sleep` children until about N processes exist, so the top lists see a busy box
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
