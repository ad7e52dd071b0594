#!/usr/bin/env bash
# bench/push.sh: what profile --push costs as a fleet agent: its CPU time
# and peak RSS over a run of DURATION seconds (default 600) at 49 Hz on all
# CPUs of a busy machine (one CPU-bound process per CPU, plus a process
# started and ended every second), pushing every 15 s to a real Pyroscope
# server on loopback; and the bytes pushed per interval. Needs root, gcc and
# the server (tools/pyroscope; see .ci/run).
#
#   bench/push.sh            # DURATION=600
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
PYROSCOPE=${EMBER_PYROSCOPE:-$HOME/.cache/ember-pyroscope}
PEERS=${PEERS:-$(for d in ../shared/peers ../../shared/peers; do [ -d "$d" ] && echo "$d" && break; done)}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/" ./cmd/profile
gcc -O2 -fomit-frame-pointer -pthread -o "$tmp/cpubench" "$PEERS/cpubench.c"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(port); grpc=$(port); ml=$(port)
cat >"$tmp/pyroscope.yaml" <<YAML
target: all
server: {http_listen_address: 127.0.0.1, http_listen_port: $http, grpc_listen_address: 127.0.0.1, grpc_listen_port: $grpc}
memberlist: {bind_addr: [127.0.0.1], advertise_addr: 127.0.0.1, bind_port: $ml}
storage: {backend: filesystem, filesystem: {dir: $tmp/shared}}
pyroscopedb: {data_path: $tmp/db}
self_profiling: {disable_push: true}
analytics: {reporting_enabled: false}
YAML
"$PYROSCOPE" -config.file="$tmp/pyroscope.yaml" -distributor.ring.instance-addr=127.0.0.1 -ingester.lifecycler.addr=127.0.0.1 \
  -compactor.ring.instance-addr=127.0.0.1 -query-scheduler.ring.instance-addr=127.0.0.1 \
  -store-gateway.sharding-ring.instance-addr=127.0.0.1 -overrides-exporter.ring.instance-addr=127.0.0.1 \
  -query-frontend.instance-addr=127.0.0.1 -ingester.min-ready-duration=0s >"$tmp/server.log" 2>&1 & pids+=($!)
until curl -fs "http://127.0.0.1:$http/ready" >/dev/null; do sleep 0.2; done

# The busy machine: a CPU-bound process per CPU, and short-lived processes.
for _ in $(seq "$(nproc)"); do "$tmp/cpubench" 100000000000 1 >/dev/null & pids+=($!); done
( while :; do "$tmp/cpubench" 20000000 1 >/dev/null; sleep 1; done ) & pids+=($!)

"$tmp/profile" --push "http://127.0.0.1:$http" --push-interval 15s -F 49 "$DURATION" 2>"$tmp/err" >/dev/null & prof=$!
hwm=0
while kill -0 "$prof" 2>/dev/null; do
  cpu=$(awk '{print $14+$15}' "/proc/$prof/stat" 2>/dev/null || echo "$cpu")
  h=$(awk '/VmHWM/ {print $2}' "/proc/$prof/status" 2>/dev/null || echo 0)
  [ "${h:-0}" -gt "$hwm" ] && hwm=$h
  sleep 1
done
wait "$prof" || true
tick=$(getconf CLK_TCK)
line=$(grep '^push:.*intervals pushed' "$tmp/err" || true)
echo "== profile --push, $DURATION s at 49 Hz on $(nproc) busy CPUs, 15 s intervals"
echo "agent CPU: $(echo "$cpu $tick $DURATION" | awk '{printf "%.2f s (%.3f%% of one CPU)", $1/$2, 100*$1/$2/$3}')"
echo "agent peak RSS: $((hwm / 1024)) MiB"
echo "$line"
n=$(echo "$line" | sed -n 's/^push: \([0-9]*\) intervals.*/\1/p')
bytes=$(echo "$line" | sed -n 's/.*(\([0-9]*\) bytes).*/\1/p')
[ -n "$n" ] && [ "$n" -gt 0 ] && echo "bytes per interval: $((bytes / n))"
{ grep -c 'retrying\|oldest interval was dropped\|refused an interval' "$tmp/err" || true; } | xargs printf 'lines reporting a retry, drop or refusal: %s\n'
