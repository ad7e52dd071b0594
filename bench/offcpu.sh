#!/usr/bin/env bash
# bench/offcpu.sh: what offcputime costs on the hottest path it has, every
# context switch, beside bpftrace's equivalent script in the same run
# (issue 3). Needs root and perf (Debian linux-perf); bpftrace is optional and
# reported as skipped when missing.
#
#   bench/offcpu.sh            # REPS=5 LOOPS=200000 by default
#
# Prints the wall time of `perf bench sched pipe -l LOOPS` alone, under
# `offcputime` (all threads, both stacks, default -m 1) and under
# shared/peers/offcpu.bt, runs interleaved A B C A B C, medians and ratios; then
# the BPF cost per sched_switch of each, from kernel.bpf_stats_enabled.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
LOOPS=${LOOPS:-200000}
PEERS=${PEERS:-../shared/peers}
tmp=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
  sysctl -q -w kernel.bpf_stats_enabled="$old_stats" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

command -v perf >/dev/null || { echo "perf: not installed (apt-get install linux-perf)"; exit 1; }
go build -o "$tmp/" ./cmd/offcputime
off="$tmp/offcputime"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# pipe_seconds: one run of the benchmark, its own "Total time" in seconds.
pipe_seconds() { perf bench sched pipe -l "$LOOPS" 2>/dev/null | awk '/Total time/ {print $3}'; }

# wait_for FILE PATTERN: until the tool running in the background says it is
# attached.
wait_for() {
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

# run_under NAME [CMD...]: the benchmark with CMD attached in the background.
run_under() {
  local name=$1; shift
  local pid=
  case $name in
    ember) "$off" 3600 >/dev/null 2>"$tmp/err" & pid=$!; wait_for "$tmp/err" '^Tracing' ;;
    bpftrace) bpftrace "$PEERS/offcpu.bt" >"$tmp/err" 2>&1 & pid=$!; wait_for "$tmp/err" 'Attaching'; sleep 0.5 ;;
  esac
  pipe_seconds >>"$tmp/$name"
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}

configs=(base ember)
have_bpftrace=0; command -v bpftrace >/dev/null && have_bpftrace=1 && configs+=(bpftrace)
# bpftrace's tracepoint: probes need tracefs (ember's tp_btf program does not).
if [ $have_bpftrace = 1 ] && [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing
fi
echo "== perf bench sched pipe -l $LOOPS, $REPS rounds of: ${configs[*]}"
for _ in $(seq "$REPS"); do
  for c in "${configs[@]}"; do run_under "$c"; done
done
base=$(median <"$tmp/base")
printf '%-10s %8s %8s\n' config wall_s slowdown
for c in "${configs[@]}"; do
  m=$(median <"$tmp/$c")
  printf '%-10s %8s %8.3f\n' "$c" "$m" "$(echo "$m $base" | awk '{print $1/$2}')"
done
[ $have_bpftrace = 1 ] || echo "bpftrace: skipped (not installed)"

echo "== BPF cost per sched_switch (kernel.bpf_stats_enabled), one benchmark run each"
# ember reports its own program's run count and time with --stats.
"$off" --stats 3600 >/dev/null 2>"$tmp/err" & pid=$!
wait_for "$tmp/err" '^Tracing'
pipe_seconds >/dev/null
kill -INT "$pid"; wait "$pid" || true
sed -n 's/^stats: .*bpf_runs=\([0-9]*\) bpf_ns_per_run=\([0-9]*\).*/ember      runs=\1 ns_per_switch=\2/p' "$tmp/err"
if [ $have_bpftrace = 1 ]; then
  sysctl -q -w kernel.bpf_stats_enabled=1
  bpftrace "$PEERS/offcpu.bt" >"$tmp/err" 2>&1 & pid=$!
  wait_for "$tmp/err" 'Attaching'; sleep 0.5
  # bpftrace names its program after the probe; sum whatever matches.
  before=$(bpftool prog show | awk '/sched_switch/ {for (i = 1; i <= NF; i++) {if ($i == "run_time_ns") t += $(i+1); if ($i == "run_cnt") c += $(i+1)}} END {print t+0, c+0}')
  pipe_seconds >/dev/null
  after=$(bpftool prog show | awk '/sched_switch/ {for (i = 1; i <= NF; i++) {if ($i == "run_time_ns") t += $(i+1); if ($i == "run_cnt") c += $(i+1)}} END {print t+0, c+0}')
  kill -INT "$pid"; wait "$pid" || true
  echo "$before $after" | awk '{t = $3 - $1; c = $4 - $2; printf "bpftrace   runs=%d ns_per_switch=%.0f\n", c, (c ? t / c : 0)}'
fi
