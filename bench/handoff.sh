#!/bin/bash
# Rolling-update latency: two daemons hand over under steady load with both cores busy.
# Run inside a private network namespace (loopback only), e.g.
#   unshare -n bash -c 'ip link set lo up && bench/handoff.sh 3'
# Run 0 is the baseline: the same load and busy cores, no handoff. Then for each of N handoffs:
# dnsperf at 3000 q/s over 100 cached names for 20 s, two CPU-bound loops beside it; at 2 s a
# successor starts; once it serves, the old one gets SIGTERM. Prints loss and latency percentiles
# over the whole run, and when the successor served and the old one exited.
set -eu
runs=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
node="$here/node_modules/.bin/node"
work=$(mktemp -d /tmp/nldns-handoff-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
{
  echo 'server:'
  echo '  interface: 127.0.0.2@5300'
  echo '  do-daemonize: no'
  echo '  username: ""'
  echo '  chroot: ""'
  echo "  directory: \"$work\""
  echo '  pidfile: ""'
  echo '  use-syslog: no'
  echo '  access-control: 127.0.0.0/8 allow'
  echo '  local-zone: "bench.test." static'
  for i in $(seq 1 100); do echo "  local-data: \"n$i.bench.test. 3600 IN A 10.0.$((i / 256)).$((i % 256))\""; done
} >"$work/unbound.conf"
for i in $(seq 1 100); do echo "n$i.bench.test A"; done >"$work/queries"
printf '.:5353 {\n    bind 127.0.0.1\n    cache 3600\n    forward . 127.0.0.2:5300\n}\n' >"$work/Corefile"
unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 &
sleep 1
start_daemon() { # $1 = log file; prints the PID once it serves
  "$node" "$here/dist/main.js" -conf "$work/Corefile" >"$1" 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do grep -q '"msg":"serving' "$1" && break; sleep 0.05; done
  echo $pid
}
old=$(start_daemon "$work/d0.log")
dnsperf -s 127.0.0.1 -p 5353 -d "$work/queries" -l 2 -Q 2000 >/dev/null # warm the cache
for run in $(seq 0 "$runs"); do
  timeout 22 sh -c 'while :; do :; done' & timeout 22 sh -c 'while :; do :; done' &
  t0=$(date +%s%N)
  dnsperf -s 127.0.0.1 -p 5353 -d "$work/queries" -l 20 -Q 3000 -c 16 -v >"$work/perf$run" 2>&1 &
  perf=$!
  ts=$t0 te=$t0
  if [ "$run" -gt 0 ]; then
    sleep 2
    new=$(start_daemon "$work/d$run.log")
    ts=$(date +%s%N)
    kill -TERM "$old"
    while kill -0 "$old" 2>/dev/null; do sleep 0.02; done
    te=$(date +%s%N)
    old=$new
  fi
  wait $perf
  lost=$(grep -E '^\s+Queries lost:' "$work/perf$run" | awk '{print $3}')
  sent=$(grep -E '^\s+Queries sent:' "$work/perf$run" | awk '{print $3}')
  # dnsperf -v: "> NOERROR n1.bench.test A 0.000123" per response (latency in seconds)
  grep -E '^> ' "$work/perf$run" | awk '{print $NF}' | sort -g >"$work/lat$run"
  n=$(wc -l <"$work/lat$run")
  pct() { sed -n "$(( (n * $1 + 99) / 100 ))p" "$work/lat$run"; }
  echo "run $run: sent $sent lost $lost; latency p50 $(pct 50) p99 $(pct 99) max $(tail -1 "$work/lat$run") s;" \
    "successor served at $(( (ts - t0) / 1000000 )) ms, old exited at $(( (te - t0) / 1000000 )) ms"
done
kill -TERM "$old"
wait "$old" 2>/dev/null || true
