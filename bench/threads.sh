#!/usr/bin/env bash
# bench/threads.sh: profile -F 999 -p PID -f DURATION of a process of THREADS
# threads that each spin SPIN iterations and sleep SLEEP_US (issue item 12).
# Prints the wall time against its baseline, the sampling duration, and where
# the output phase went (--stats). Needs root.
#
#   bench/threads.sh                          # moderate: 1000 20000 50000
#   SPIN=200000 SLEEP_US=5000 bench/threads.sh   # ~1000 runnable: starvation
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1000} SPIN=${SPIN:-20000} SLEEP_US=${SLEEP_US:-50000} DURATION=${DURATION:-20}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/" ./cmd/profile
gcc -O2 -fno-omit-frame-pointer -pthread -o "$tmp/threads" bench/threads.c
"$tmp/threads" "$THREADS" "$SPIN" "$SLEEP_US" >"$tmp/pid" & pid=$!
while [ ! -s "$tmp/pid" ]; do sleep 0.2; done
start=$(date +%s.%N)
"$tmp/profile" -F 999 -p "$(cat "$tmp/pid")" -f "$DURATION" --stats 2>"$tmp/err" >"$tmp/out"
wall=$(echo "$(date +%s.%N) - $start" | bc)
grep '^stats:' "$tmp/err"
printf 'wall_s %.1f vs sampling baseline %s s: ratio %.2f; folded lines %d\n' "$wall" "$DURATION" "$(echo "$wall / $DURATION" | bc -l)" "$(wc -l <"$tmp/out")"
