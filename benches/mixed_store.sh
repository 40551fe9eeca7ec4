#!/usr/bin/env bash
# A store as an upgraded recorder leaves it: the answers bench's synthetic month written in schema 4 for its first
# days and in today's format for its last DAYS (its daily segments taken from a store of the same samples written
# by today's writer), so that reading history in the middle of an upgrade can be timed:
#
#   bash benches/schema4_store.sh S4 30                                              # the month in schema 4
#   cargo bench -p stabmon-benches --bench answers -- --days 30 --keep NEW --write-only  # and in today's format
#   bash benches/mixed_store.sh S4 NEW OUT 15                                        # the last 15 days in today's
#   cargo bench -p stabmon-benches --bench answers -- --days 30 --keep OUT --runs 3
#
# Both stores must hold the same samples (the answers bench's generator), one segment a day per table. OUT must not
# exist. Sends no network traffic.
set -euo pipefail
old=${1:?usage: mixed_store.sh SCHEMA4_DIR TODAY_DIR OUT DAYS}
new=${2:?usage: mixed_store.sh SCHEMA4_DIR TODAY_DIR OUT DAYS}
out=${3:?usage: mixed_store.sh SCHEMA4_DIR TODAY_DIR OUT DAYS}
days=${4:?usage: mixed_store.sh SCHEMA4_DIR TODAY_DIR OUT DAYS}
if [ -e "$out" ]; then
    echo "mixed_store.sh: $out exists; give a new directory" >&2
    exit 2
fi
cp -r "$old" "$out"
# The last DAYS dates of today's store, by its samples table.
mapfile -t dates < <(find "$new/samples" -mindepth 2 -maxdepth 2 -type d -name 'date=*' -printf '%P\n' | sort | tail -n "$days")
if [ "${#dates[@]}" -ne "$days" ]; then
    echo "mixed_store.sh: $new holds ${#dates[@]} days, fewer than $days" >&2
    exit 2
fi
for part in "${dates[@]}"; do
    for table in "$new"/*/; do
        table=$(basename "$table")
        [ -d "$new/$table/$part" ] || continue
        rm -rf "${out:?}/$table/$part"
        mkdir -p "$out/$table/$(dirname "$part")"
        cp -r "$new/$table/$part" "$out/$table/$part"
    done
done
echo "wrote $out: ${#dates[@]} days of today's format from ${dates[0]#*/}, the rest schema 4"
