#!/bin/sh
# Folded stacks to SVG: time and peak memory of ember's flamegraph on
# synthetic deep-stack inputs of 10k, 100k and 1M lines (about 1.1 KB a line,
# so the 1M-line file is about 1.1 GB), beside flamegraph.pl's when
# FLAMEGRAPH_PL names a copy of it ("skipped" otherwise), with the ratios.
#
#   FLAMEGRAPH_PL=/tmp/flamegraph.pl bench/flamegraph.sh
#
# With a chromium on PATH it then times how long headless Chromium takes to
# open each of our SVGs (flamegraph/browser_test.go, TestBrowserLoadTime):
# the median and the fastest of 3 opens, each from an empty page, from setting
# the location to the first frame drawn after the load event. Timings on a shared machine move with its load, so
# the load average is printed beside them.
#
# Environment: SIZES (line counts, default "10000 100000 1000000"),
# BENCH_DIR (where inputs and outputs go, default /tmp/ember-flamegraph-bench;
# inputs are kept and reused), FLAMEGRAPH_PL.
set -eu
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-/tmp/ember-flamegraph-bench}
sizes=${SIZES:-"10000 100000 1000000"}
pl=${FLAMEGRAPH_PL:-}
mkdir -p "$work"
go build -o "$work/flamegraph" ./cmd/flamegraph
go build -o "$work/flamegraphgen" ./bench/flamegraphgen
if [ ! -x /usr/bin/time ]; then
	echo "bench/flamegraph.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2
	exit 1
fi

# run OUT CMD...: runs CMD with stdout to OUT; prints "seconds peak_MB".
run() {
	out=$1
	shift
	if ! /usr/bin/time -v -o "$work/time.txt" "$@" >"$out" 2>"$work/stderr.txt"; then
		# flamegraph.pl exits 2 on empty input; anything else is a failure.
		echo "bench/flamegraph.sh: failed: $*" >&2
		cat "$work/stderr.txt" >&2
		exit 1
	fi
	awk -F': ' '
		/Elapsed \(wall clock\)/ {
			n = split($2, p, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + p[i]
		}
		/Maximum resident set size/ { m = $2 / 1024 }
		END { printf "%.2f %.0f\n", s, m }' "$work/time.txt"
}

printf '%-8s %8s | %8s %8s %8s %7s | %8s %8s | %7s %7s\n' \
	lines input_MB ours_s ours_MB svg_KB frames pl_s pl_MB speedup mem_x
for n in $sizes; do
	in="$work/deep-$n.folded"
	if [ ! -s "$in" ]; then
		"$work/flamegraphgen" -lines "$n" >"$in.tmp" && mv "$in.tmp" "$in"
	fi
	in_mb=$(du -m "$in" | cut -f1)
	set -- $(run "$work/ours-$n.svg" "$work/flamegraph" "$in")
	ours_s=$1 ours_mb=$2
	svg_kb=$(( $(wc -c <"$work/ours-$n.svg") / 1024 ))
	frames=$(grep -c ' data-title="' "$work/ours-$n.svg" || true)
	if [ -n "$pl" ]; then
		set -- $(run "$work/pl-$n.svg" perl "$pl" "$in")
		pl_s=$1 pl_mb=$2
		speedup=$(awk -v a="$pl_s" -v b="$ours_s" 'BEGIN { printf "%.1fx", a / (b > 0 ? b : 0.01) }')
		mem=$(awk -v a="$pl_mb" -v b="$ours_mb" 'BEGIN { printf "%.1fx", a / (b > 0 ? b : 1) }')
	else
		pl_s=skipped pl_mb=skipped speedup=- mem=-
	fi
	printf '%-8s %8s | %8s %8s %8s %7s | %8s %8s | %7s %7s\n' \
		"$n" "$in_mb" "$ours_s" "$ours_mb" "$svg_kb" "$frames" "$pl_s" "$pl_mb" "$speedup" "$mem"
done

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
	svgs=
	for n in $sizes; do
		svgs="$svgs $work/ours-$n.svg"
	done
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	EMBER_FLAMEGRAPH_SVGS="$svgs" go test ./flamegraph -run TestBrowserLoadTime -count 1 -v | grep '^browser-load' || true
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
else
	echo "browser-load skipped (no chromium)"
fi
