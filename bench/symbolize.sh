#!/bin/bash
# Benchmarks cmd/symbolize against llvm-addr2line and binutils addr2line on
# the same 100k addresses of a large C++ -O2 -g binary (generated and built
# here once, then reused): throughput, first-lookup latency and peak RSS.
#
#   bash bench/symbolize.sh            # N=100000 UNITS=16 by default
#   N=20000 UNITS=8 bash bench/symbolize.sh
#
# Needs g++, python3, llvm-addr2line (Debian llvm), addr2line (binutils) and
# /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
UNITS=${UNITS:-16}
dir=${EMBER_BENCH_DIR:-/tmp/ember-bench-symbolize}
mkdir -p "$dir"
bin=$dir/big-$UNITS

if [ ! -x "$bin" ]; then
	echo "building $bin ($UNITS translation units, -O2 -g; a few minutes)..." >&2
	python3 bench/symbolize_gen.py "$dir/src-$UNITS" "$UNITS" 40
	objs=()
	for f in "$dir/src-$UNITS"/*.cpp; do objs+=("${f%.cpp}.o"); done
	printf '%s\n' "$dir/src-$UNITS"/*.cpp | xargs -P "$(nproc)" -I{} sh -c 'g++ -O2 -g -c "$1" -o "${1%.cpp}.o"' _ {}
	g++ -o "$bin" "${objs[@]}"
fi

go build -o "$dir/symbolize" ./cmd/symbolize

# N addresses spread at random over .text, the same for every tool.
read -r taddr tsize < <(readelf -SW "$bin" | awk '$2 == ".text" {print $4, $6}')
awk -v n="$N" -v a=$((16#$taddr)) -v s=$((16#$tsize)) 'BEGIN { srand(42); for (i = 0; i < n; i++) printf "0x%x\n", a + int(rand() * s) }' >"$dir/addrs"
head -1 "$dir/addrs" >"$dir/addr1"

# measure NAME CMD...: runs CMD on all addresses and on one, under
# /usr/bin/time, recording wall seconds, CPU seconds (user + system: on a
# shared machine, less disturbed by other load than wall time) and peak RSS.
declare -A wall cpu rss first
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$dir/time.$name" "$@" <"$dir/addrs" >"$dir/out.$name"
	local user sys
	read -r wall[$name] rss[$name] user sys <"$dir/time.$name"
	cpu[$name]=$(printf %.2f "$(echo "$user + $sys" | bc -l)")
	/usr/bin/time -f '%e %M' -o "$dir/time1.$name" "$@" <"$dir/addr1" >/dev/null
	read -r first[$name] _ <"$dir/time1.$name"
}
measure ember "$dir/symbolize" -a -f -i -C -e "$bin"
measure llvm llvm-addr2line -a -f -i -C -e "$bin"
measure binutils addr2line -a -f -i -C -e "$bin"

size=$(stat -c %s "$bin")
echo "binary: $bin ($((size / 1048576)) MiB), $N addresses, $(nproc) cores"
printf '%-16s %10s %10s %14s %16s %12s\n' tool "wall (s)" "cpu (s)" "addrs/s" "first addr (s)" "peak RSS (MiB)"
for t in ember llvm binutils; do
	printf '%-16s %10s %10s %14.0f %16s %12d\n' "$t" "${wall[$t]}" "${cpu[$t]}" "$(echo "$N / ${wall[$t]}" | bc -l)" "${first[$t]}" $((${rss[$t]} / 1024))
done
ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "throughput ratio: ember is $(ratio "${wall[llvm]}" "${wall[ember]}")x llvm-addr2line, $(ratio "${wall[binutils]}" "${wall[ember]}")x binutils addr2line"
echo "CPU time ratio: ember uses $(ratio "${cpu[ember]}" "${cpu[llvm]}")x llvm-addr2line's, $(ratio "${cpu[ember]}" "${cpu[binutils]}")x binutils addr2line's"
echo "first-lookup ratio: ember is $(ratio "${first[llvm]}" "${first[ember]}")x llvm-addr2line, $(ratio "${first[binutils]}" "${first[ember]}")x binutils addr2line"
echo "peak RSS ratio: ember uses $(ratio "${rss[ember]}" "${rss[llvm]}")x llvm-addr2line's"
# Same answers? (a quick check; the differential test is the real one.)
# Lines are compared one for one; LLVM 14's demangler prints "> >" and
# "operator<<char>" where ours prints ">>" and "operator< <char>", and some
# generic lambdas' parameter lists as "(auto, auto)": names that differ
# only so are counted apart from locations (file:line) that differ.
if cmp -s "$dir/out.ember" "$dir/out.llvm"; then
	echo "output: identical to llvm-addr2line's"
else
	awk '
	function norm(s) {
		while (s ~ /> >/) gsub(/> >/, ">>", s)
		gsub(/operator< </, "operator<<", s)
		return s
	}
	NR == FNR { ref[FNR] = $0; next }
	{
		n++
		if ($0 == ref[FNR]) next
		if ($0 ~ /:[0-9]+$/ || ref[FNR] ~ /:[0-9]+$/ || $0 ~ /^0x[0-9a-f]+$/) loc++
		else if (norm($0) == norm(ref[FNR])) style++
		else name++
	}
	END {
		if (n != length(ref)) printf "output: %d lines, llvm-addr2line %d: frames differ\n", n, length(ref)
		else printf "output: of %d lines, %d locations differ from llvm-addr2line, %d names (and %d names only in \"> >\" style; see TestDifferentialLLVM)\n", n, loc, name, style
	}' "$dir/out.llvm" "$dir/out.ember"
fi
