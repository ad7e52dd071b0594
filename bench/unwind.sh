#!/usr/bin/env bash
# bench/unwind.sh: the costs of DWARF unwinding (--unwind auto) beside frame
# pointers (--unwind fp) and perf's DWARF unwinding, in the same run. Needs
# root, gcc and Debian's /usr/bin/python3.11; perf (linux-perf) is optional.
#
#   bench/unwind.sh            # REPS=3 by default
#   SECTIONS=slowdown CONFIGS="base sample999 ember999 perf999" REPS=11 bench/unwind.sh
#
# SECTIONS picks from: attach bpf slowdown cmd pipe first (default all);
# CONFIGS, the slowdown section's configurations (default all of them);
# CMD_HZ, the cmd section's frequency (default 999).
#
# Prints: attach latency (median of 5) per mode; BPF ns per sample per mode on
# a no-frame-pointer CPU-bound program (shared/peers/cpubench.c built with
# -O2 -fomit-frame-pointer) and on python3; the slowdown of that program under
# ember --unwind auto and perf --call-graph dwarf at 49, 999 and 4999 Hz,
# beside perf sampling no stacks at all (A B A B, medians, and ember over
# perf round by round); the same at CMD_HZ (999) with the program started by each
# profiler (profile -- CMD, perf record -- CMD); perf bench sched
# pipe under offcputime --unwind auto and fp; the time from attach to the
# first fully unwound python3 sample.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
ITERS=${ITERS:-200000000}
PEERS=${PEERS:-$(for d in ../shared/peers ../../shared/peers; do [ -d "$d" ] && echo "$d" && break; done)}
PY=/usr/bin/python3.11
SECTIONS=${SECTIONS:-attach bpf slowdown cmd pipe first}
CMD_HZ=${CMD_HZ:-999}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/" ./cmd/profile ./cmd/offcputime
prof="$tmp/profile"
offcpu="$tmp/offcputime"
gcc -O2 -fomit-frame-pointer -pthread -o "$tmp/cpubench" "$PEERS/cpubench.c"
have_perf=0; command -v perf >/dev/null && have_perf=1

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { tr " " "\n" | sed -n "s/^$1=\([0-9.]*\).*/\1/p" | head -1; }
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.3f", $1/$2; else print "nan" }'; }
# paired LABEL A B: A over B round by round (line i of each file is round i):
# the median, how many rounds A was faster, and a sign test (the chance of
# A being faster in that many rounds or more if the two cost the same).
paired() {
  paste "$2" "$3" | awk '{print $1/$2}' >"$tmp/paired"
  awk -v label="$1" -v med="$(median <"$tmp/paired")" '
    { n++; if ($1 < 1) k++ }
    END {
      # P(X >= k) for X ~ Binomial(n, 1/2).
      p = 0; c = 1
      for (i = 0; i <= n; i++) { if (i >= k) p += c; c = c * (n - i) / (i + 1) }
      p /= 2 ^ n
      printf "paired %s per round: median %.3f, faster in %d of %d rounds (sign test p = %.4f)\n", label, med, k, n, p
    }' "$tmp/paired"
}

echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg) (figures are only comparable within this run)"

if want attach; then
echo "== attach latency (start to sampling attached), median of 5"
for m in fp auto; do
  for i in 1 2 3 4 5; do "$prof" --unwind $m --stats -f 1 2>&1 >/dev/null | field attach_ms; done | median >"$tmp/attach_$m"
done
printf 'attach_ms fp %s auto %s ratio auto/fp %s (target < 100 ms)\n' "$(cat "$tmp/attach_fp")" "$(cat "$tmp/attach_auto")" "$(ratio "$(cat "$tmp/attach_auto")" "$(cat "$tmp/attach_fp")")"
fi

if want bpf; then
echo "== BPF ns per sample (all runs' BPF time over the samples kept), -p PID -F 499 for 5 s"
"$tmp/cpubench" 100000000000 1 >/dev/null & pids+=($!); cb=$!
cat >"$tmp/loop.py" <<'PY'
import json, re, sys, time
pat = re.compile(r'"(\w+)":\s*(\d+)')
doc = {"k%d" % i: {"v": i, "s": "x" * (i % 17), "l": list(range(i % 7))} for i in range(200)}
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    s = json.dumps(doc); d = json.loads(s); pat.findall(s)
PY
"$PY" "$tmp/loop.py" 3600 & pids+=($!); py=$!
sleep 1
for target in cpubench:$cb python3:$py; do
  name=${target%%:*}; pid=${target##*:}
  for m in fp auto; do
    "$prof" --unwind $m --stats -U -f -p "$pid" -F 499 5 2>"$tmp/err" >"$tmp/out_${name}_$m"
    # BPF time of all runs (those filtered out by -p too) per sample kept.
    ns=$(awk -v r="$(field bpf_runs <"$tmp/err")" -v n="$(field bpf_ns_per_run <"$tmp/err")" -v s="$(field samples <"$tmp/err")" 'BEGIN { if (s > 0) printf "%.0f", r*n/s; else print "nan" }')
    depth=$(awk '{n=split($1,a,";"); s+=n*$2; c+=$2} END {if (c) printf "%.1f", s/c; else print "nan"}' "$tmp/out_${name}_$m")
    echo "$ns" >"$tmp/ns_${name}_$m"
    printf '%-9s %-4s bpf_ns_per_sample %6s  mean folded depth %s\n' "$name" "$m" "$ns" "$depth"
  done
  printf '%-9s ratio auto/fp %s\n' "$name" "$(ratio "$(cat "$tmp/ns_${name}_auto")" "$(cat "$tmp/ns_${name}_fp")")"
done
kill "$cb" "$py" 2>/dev/null || true
fi

# run_under NAME CMD...: cpubench wall time with CMD running in the background.
run_under() {
  local name=$1; shift
  if [ $# -gt 0 ]; then
    "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 2
  fi
  "$tmp/cpubench" "$ITERS" | field wall_s >>"$tmp/$name"
  if [ $# -gt 0 ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
configs=(base emberfp49 ember49 emberfp999 ember999 emberfp4999 ember4999)
# sample999/4999: perf sampling with no stack at all, the cost every sampler
# pays for the timer interrupt alone; at 4999 Hz the per-sample costs of
# unwinding stand out of the noise, which at 999 Hz they do not here.
[ $have_perf = 1 ] && configs+=(perf49 perf999 sample999 perf4999 sample4999)
[ -n "${CONFIGS:-}" ] && read -r -a configs <<<"$CONFIGS"
if want slowdown; then
echo "== no-frame-pointer cpubench slowdown, $REPS rounds of: ${configs[*]}"
for r in $(seq "$REPS"); do
  # Each round starts one configuration later, so none always runs first.
  k=$(( (r - 1) % ${#configs[@]} ))
  for c in "${configs[@]:k}" "${configs[@]:0:k}"; do
    case $c in
      base) run_under base ;;
      emberfp49) run_under emberfp49 "$prof" --unwind fp -f ;;
      ember49) run_under ember49 "$prof" --unwind auto -f ;;
      emberfp999) run_under emberfp999 "$prof" --unwind fp -F 999 -f ;;
      emberfp4999) run_under emberfp4999 "$prof" --unwind fp -F 4999 -f ;;
      ember999) run_under ember999 "$prof" --unwind auto -F 999 -f ;;
      perf49) run_under perf49 perf record --call-graph dwarf -F 49 -a -o "$tmp/perf.data" ;;
      perf999) run_under perf999 perf record --call-graph dwarf -F 999 -a -o "$tmp/perf.data" ;;
      ember4999) run_under ember4999 "$prof" --unwind auto -F 4999 -f ;;
      perf4999) run_under perf4999 perf record --call-graph dwarf -F 4999 -a -o "$tmp/perf.data" ;;
      sample999) run_under sample999 perf record -F 999 -a -o "$tmp/perf.data" ;;
      sample4999) run_under sample4999 perf record -F 4999 -a -o "$tmp/perf.data" ;;
    esac
  done
done
base=$(median <"$tmp/base")
printf '%-12s %8s %8s %s\n' config wall_s ratio "beyond sampling alone (ratio to sampleN)"
for c in "${configs[@]}"; do
  m=$(median <"$tmp/$c")
  hz=${c##*[a-z]}; beyond=
  if [ -s "$tmp/sample$hz" ] && [ "${c#sample}" = "$c" ]; then beyond=$(ratio "$m" "$(median <"$tmp/sample$hz")"); fi
  printf '%-12s %8s %8s %s\n' "$c" "$m" "$(ratio "$m" "$base")" "$beyond"
done
# The machine's speed drifts between rounds; ember and perf compared
# within each round cancel most of that drift.
for hz in 49 999 4999; do
  if [ -s "$tmp/ember$hz" ] && [ -s "$tmp/perf$hz" ]; then
    paired "ember$hz/perf$hz" "$tmp/ember$hz" "$tmp/perf$hz"
  fi
done
[ $have_perf = 1 ] || echo "perf: skipped (not installed)"
fi

# The program started by the profiler itself (profile -- CMD, perf record --
# CMD), as in a CI job: at CMD_HZ, and ember over perf round by round.
if [ $have_perf = 1 ] && want cmd; then
  echo "== no-frame-pointer cpubench started by the profiler at $CMD_HZ Hz, $REPS rounds of: base sample ember perf"
  cmds=(base sample ember perf)
  for r in $(seq "$REPS"); do
    k=$(( (r - 1) % 4 ))
    for c in "${cmds[@]:k}" "${cmds[@]:0:k}"; do
      case $c in
        base) out=$("$tmp/cpubench" "$ITERS") ;;
        sample) out=$(perf record -q -F "$CMD_HZ" -o "$tmp/perf.data" -- "$tmp/cpubench" "$ITERS" 2>/dev/null) ;;
        ember) out=$("$prof" --unwind auto -F "$CMD_HZ" -f -o "$tmp/cmd.folded" -- "$tmp/cpubench" "$ITERS" 2>/dev/null) ;;
        perf) out=$(perf record -q --call-graph dwarf -F "$CMD_HZ" -o "$tmp/perf.data" -- "$tmp/cpubench" "$ITERS" 2>/dev/null) ;;
      esac
      echo "$out" | field wall_s >>"$tmp/cmd_$c"
    done
  done
  cb=$(median <"$tmp/cmd_base")
  for c in "${cmds[@]}"; do
    printf 'cmd %-7s %8s ratio to base %s\n' "$c" "$(median <"$tmp/cmd_$c")" "$(ratio "$(median <"$tmp/cmd_$c")" "$cb")"
  done
  paired ember/perf "$tmp/cmd_ember" "$tmp/cmd_perf"
  paired "ember/sampling alone" "$tmp/cmd_ember" "$tmp/cmd_sample"
fi

if [ $have_perf = 1 ] && want pipe; then
  echo "== perf bench sched pipe -l 200000 under offcputime, $REPS rounds of: base fp auto"
  pipe_under() {
    local name=$1; shift
    if [ $# -gt 0 ]; then "$@" >/dev/null 2>&1 & local pid=$!; sleep 2; fi
    perf bench sched pipe -l 200000 2>/dev/null | sed -n 's/.*Total time: *\([0-9.]*\).*/\1/p' >>"$tmp/pipe_$name"
    if [ $# -gt 0 ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  }
  for r in $(seq "$REPS"); do
    pipe_under base
    pipe_under fp "$offcpu" --unwind fp -f
    pipe_under auto "$offcpu" --unwind auto -f
  done
  pb=$(median <"$tmp/pipe_base")
  for c in base fp auto; do
    m=$(median <"$tmp/pipe_$c")
    printf 'pipe %-5s %8s s ratio to base %s\n' "$c" "$m" "$(ratio "$m" "$pb")"
  done
fi

if want first; then
echo "== attach to the first fully unwound python3 sample"
go test -count=1 -run '^$' -bench FirstUnwound -benchtime 5x ./sampler | grep ms-to-unwound
fi
