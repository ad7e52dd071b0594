#!/usr/bin/env bash
# bench/profile.sh: the profile command's costs, beside bpftrace and perf in the
# same run (issue 2). Needs root; bpftrace and perf (Debian bpftrace,
# linux-perf) are optional and reported as skipped when missing.
#
#   bench/profile.sh            # REPS=3 DURATION=30 by default
#
# Prints: attach latency (median of 5), for a DURATION-second all-CPU profile
# the output latency, our own CPU while sampling and BPF ns per sample, and the
# slowdown of a CPU-bound program (shared/peers/cpubench.c) under each
# profiler at 49 and 999 Hz, runs interleaved A B A B, medians.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
DURATION=${DURATION:-30}
PEERS=${PEERS:-../shared/peers}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/" ./cmd/profile
prof="$tmp/profile"
gcc -O2 -fno-omit-frame-pointer -pthread -o "$tmp/cpubench" "$PEERS/cpubench.c"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "== attach latency (start to sampling attached), 5 runs"
for i in 1 2 3 4 5; do "$prof" --stats -f 1 2>&1 >/dev/null | field attach_ms; done | median | xargs printf 'attach_ms median %s (target < 100)\n'

echo "== ${DURATION}s all-CPU profile at 49 Hz"
stats=$("$prof" --stats -af "$DURATION" 2>&1 >"$tmp/out.folded" | grep '^stats:')
echo "$stats"
echo "output_ms $(echo "$stats" | field output_ms) (target < 200); sampling_cpu_pct $(echo "$stats" | field sampling_cpu_pct) (target < 0.2); bpf_ns_per_run $(echo "$stats" | field bpf_ns_per_run); folded lines $(wc -l <"$tmp/out.folded")"

# run_under NAME CMD...: cpubench wall time with CMD running in the background.
run_under() {
  local name=$1; shift
  if [ $# -gt 0 ]; then
    "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 2 # all three attach well within this
  fi
  "$tmp/cpubench" | field wall_s >>"$tmp/$name"
  if [ $# -gt 0 ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}

configs=(base ember49 ember999)
have_bpftrace=0; command -v bpftrace >/dev/null && have_bpftrace=1 && configs+=(bpftrace49 bpftrace999)
have_perf=0; command -v perf >/dev/null && have_perf=1 && configs+=(perf49 perf999)
echo "== cpubench slowdown, $REPS rounds of: ${configs[*]}"
for r in $(seq "$REPS"); do
  for c in "${configs[@]}"; do
    case $c in
      base) run_under base ;;
      ember49) run_under ember49 "$prof" -f ;;
      ember999) run_under ember999 "$prof" -F 999 -f ;;
      bpftrace49) run_under bpftrace49 bpftrace -e 'profile:hz:49 { @[kstack, ustack, comm] = count(); }' ;;
      bpftrace999) run_under bpftrace999 bpftrace -e 'profile:hz:999 { @[kstack, ustack, comm] = count(); }' ;;
      perf49) run_under perf49 perf record -g -F 49 -a -o "$tmp/perf.data" ;;
      perf999) run_under perf999 perf record -g -F 999 -a -o "$tmp/perf.data" ;;
    esac
  done
done
base=$(median <"$tmp/base")
printf '%-12s %8s %8s\n' config wall_s ratio
for c in "${configs[@]}"; do
  m=$(median <"$tmp/$c")
  printf '%-12s %8s %8.3f\n' "$c" "$m" "$(echo "$m $base" | awk '{print $1/$2}')"
done
[ $have_bpftrace = 1 ] || echo "bpftrace: skipped (not installed)"
[ $have_perf = 1 ] || echo "perf: skipped (not installed)"
