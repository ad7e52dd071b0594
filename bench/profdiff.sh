#!/usr/bin/env bash
# bench/profdiff.sh: how well the CI regression gate (profile -- CMD, then
# profdiff) tells real regressions from noise on this machine. Needs root and
# gcc. Runs testdata/knob (five functions: parse 20%, hash 20%, sort 25%,
# render 15%, flush 20% of its time) under profile -F 4999 -- knob, with base
# and changed runs interleaved as the README's CI job does.
#
#   bench/profdiff.sh        # PAIRS=20 RUNS=3 MAXRUNS=10
#
# Prints:
#   - the false-positive rate: PAIRS pairs of RUNS runs a side of the same
#     build, each compared by profdiff with its default thresholds;
#   - the smallest slowdown of parse (a function of about 20%) flagged with
#     parse named, with 3 runs a side (three disjoint trials from the first 9
#     runs) and with MAXRUNS runs a side;
#   - the same for a uniform slowdown (every function), flagged on the total.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-20}
RUNS=${RUNS:-3}
MAXRUNS=${MAXRUNS:-10}
HZ=${HZ:-4999}
[ "$MAXRUNS" -ge 9 ] || { echo "MAXRUNS must be at least 9: the 3-run trials take runs 0-8"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/" ./cmd/profile ./cmd/profdiff
gcc -O2 -g -fno-omit-frame-pointer -fno-ipa-icf -o "$tmp/knob" testdata/knob/knob.c
prof="$tmp/profile"
pdiff="$tmp/profdiff"

# record DIR RUN [KNOB ARGS...]: one profiled run into DIR/runRUN.pb.gz.
record() {
  local dir=$1 run=$2; shift 2
  mkdir -p "$dir"
  "$prof" -F "$HZ" --format pprof -o "$dir/run$(printf %02d "$run").pb.gz" -- "$tmp/knob" "$@" 2>/dev/null
}
# flagged BASE NEW: the names profdiff flags (TOTAL for the total), or "-".
flagged() {
  { "$pdiff" --format json "$1" "$2" || true; } | python3 -c '
import json, sys
r = json.load(sys.stdin)
names = (["TOTAL"] if r["total"]["verdict"] == "regression" else []) + [f["name"] for f in r["functions"] if f["verdict"] == "regression"]
print(",".join(names) or "-")'
}
# pick SRC DST FIRST N: runs FIRST..FIRST+N-1 of SRC, hard-linked into DST
# (profdiff reads regular files only).
pick() {
  local src=$1 dst=$2 first=$3 n=$4
  mkdir -p "$dst"
  for i in $(seq "$first" $((first + n - 1))); do ln "$src/run$(printf %02d "$i").pb.gz" "$dst/"; done
}

echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== false positives: $PAIRS pairs of $RUNS runs a side, the same build"
fp=0
for p in $(seq "$PAIRS"); do
  for i in $(seq "$RUNS"); do
    record "$tmp/fp$p/a" "$i" -n 150000000
    record "$tmp/fp$p/b" "$i" -n 150000000
  done
  got=$(flagged "$tmp/fp$p/a" "$tmp/fp$p/b")
  [ "$got" = "-" ] || { fp=$((fp + 1)); echo "pair $p flagged: $got"; }
done
echo "false positives: $fp of $PAIRS pairs"

levels=(1.05 1.10 1.15 1.20 1.30 1.50)
ulevels=(1.02 1.03 1.05 1.10)
echo "== recording $MAXRUNS runs a side: base, parse x{${levels[*]}}, all x{${ulevels[*]}}"
for i in $(seq 0 $((MAXRUNS - 1))); do
  record "$tmp/base" "$i"
  for l in "${levels[@]}"; do record "$tmp/parse$l" "$i" -s "parse=$l"; done
  for l in "${ulevels[@]}"; do record "$tmp/all$l" "$i" -u "$l"; done
done

# detection SIDE WANT LEVEL...: for each level, whether the comparison of
# base with SIDE<level> flags WANT (a function, or TOTAL), with 3 runs a
# side (three disjoint trials from the first 9 runs) and with all of them.
detection() {
  local side=$1 want=$2; shift 2
  printf '%-8s %-28s %s\n' slowdown "3 runs a side (3 trials)" "$MAXRUNS runs a side"
  for l in "$@"; do
    trials=""
    for t in 0 1 2; do
      pick "$tmp/base" "$tmp/b3_${side}${l}_$t" $((t * 3)) 3
      pick "$tmp/$side$l" "$tmp/n3_${side}${l}_$t" $((t * 3)) 3
      got=$(flagged "$tmp/b3_${side}${l}_$t" "$tmp/n3_${side}${l}_$t")
      case ",$got," in *,"$want",*) trials+="yes " ;; *) trials+="no($got) " ;; esac
    done
    got=$(flagged "$tmp/base" "$tmp/$side$l")
    case ",$got," in *,"$want",*) all=yes ;; *) all="no($got)" ;; esac
    printf '%-8s %-28s %s\n' "+$(echo "$l" | awk '{printf "%d%%", ($1-1)*100+0.5}')" "$trials" "$all"
  done
}

echo "== parse (20% of the time) slowed: flagged with parse named?"
detection parse parse "${levels[@]}"
echo "== every function slowed alike: flagged on the total?"
detection all TOTAL "${ulevels[@]}"
