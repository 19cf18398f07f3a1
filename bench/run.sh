#!/usr/bin/env bash
# nodelocaldns benchmark: our daemon vs unbound and dnsmasq, driven by dnsperf, all inside a private
# network namespace (loopback only, so no query can leave the machine even by mistake).
#
# Usage: bash bench/run.sh [--rounds N (default 2)] [--seconds S] [--latency-seconds S] [--miss-seconds S]
#                          [--miss-names N] [--outstanding N] [--clients N] [--servers ours,unbound,dnsmasq]
#                          [--profile] [--keep] [--only peers,cluster,metrics,workers,heap,memory (default: all)]
#                          [--cluster-rounds N] [--burst-events N (50000)] [--burst-qps Q (10000)]
#                          [--burst-seconds S (15)] [--metrics-rounds N (3)] [--workers-rounds N]
#                          [--workers-clients N (16)] [--heap-rounds N (4)] [--heap-qps Q (max)]
#                          [--mixed-seconds S (60)] [--malformed-packets N (1000000)] [--outage-seconds S (60)]
#                          [--outage-qps Q (2000)] [--memory-phases mixed,malformed,outage]
# Scenarios: peers = hits, latency at 10k q/s, TCP misses and RSS vs unbound and dnsmasq; cluster =
# in-process cluster answers (10,000 Services / 50,000 endpoints from the fake API server) vs cache hits,
# RSS with the index, watch-event burst while answering; metrics = cache-hit CPU with/without
# `prometheus`; workers = cache hits with -workers 1 vs 2; heap = cache hits and memory of two daemons holding
# the cluster index, V8's default heap growth vs --heap-growing-percent=50; memory = VmRSS/RssAnon/RssFile
# over time (PNG per phase) for ours and unbound: 60 s mixed hit/miss load, 10^6 malformed datagrams, 60 s
# upstream outage (SIGSTOP) at 2,000 q/s. BENCH_DAEMON_NODE_FLAGS adds node flags
# (e.g. --trace-gc) to the daemons of the cluster/metrics/workers scenarios.
# Needs dist/main.js (npm run build, or npx tsc -p tsconfig.json --noCheck) and the Debian packages
# unbound, dnsmasq-base, dnsperf, iproute2, util-linux. Results: bench/results/<timestamp>.{json,md}.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
export PATH="$ROOT/node_modules/.bin:$PATH:/usr/sbin:/sbin"

die() {
  echo "bench: $*" >&2
  exit 1
}

# Re-exec inside a fresh network namespace with only loopback, once.
if [[ "${NLD_BENCH_NETNS:-}" != "1" ]]; then
  command -v unshare >/dev/null || die "unshare not found (Debian package util-linux)"
  command -v ip >/dev/null || die "ip not found (Debian package iproute2)"
  export NLD_BENCH_NETNS=1
  userns=()
  [[ $EUID -eq 0 ]] || userns=(-r) # unprivileged: map ourselves to root in a user namespace
  exec unshare "${userns[@]}" -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi

if ip -o link show | grep -v ': lo:' | grep -q .; then
  die "refusing to run: this network namespace has interfaces other than loopback"
fi
ip -o link show lo | grep -q 'UP' || die "loopback is not up"

missing=()
need() { command -v "$1" >/dev/null || missing+=("$1 (Debian package $2)"); }
need unbound unbound
need dnsmasq dnsmasq-base
need dnsperf dnsperf
need taskset util-linux
need timeout coreutils
need getconf libc-bin
need node "npm install: node 24 from node_modules"
if ((${#missing[@]} > 0)); then
  die "missing tools: ${missing[*]}. Install with: apt-get install -y unbound dnsmasq-base dnsperf iproute2 util-linux"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 24)) || die "node $node_major found first on PATH; need node >= 24 (run npm install in $ROOT)"
[[ -f "$ROOT/dist/main.js" ]] || die "dist/main.js missing: run 'npm run build' (or 'npx tsc -p tsconfig.json --noCheck') first"
# Servers on CPU 0; dnsperf, the upstream and this orchestrator on CPU 1 (same CPU when there is only one).
export BENCH_SERVER_CPU=0 BENCH_CLIENT_CPU=1
if (($(nproc) < 2)); then
  echo "bench: warning: only $(nproc) CPU; servers and dnsperf will share it" >&2
  BENCH_CLIENT_CPU=0
fi

BENCH_PIDFILE="$(mktemp /tmp/nld-bench-pids.XXXXXX)"
export BENCH_PIDFILE

cleanup() {
  local pid
  while read -r pid; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
  done <"$BENCH_PIDFILE"
  sleep 0.5
  while read -r pid; do
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  done <"$BENCH_PIDFILE"
  rm -f "$BENCH_PIDFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$ROOT"
# The whole bench is bounded (10 minutes; a default run takes ~7); each dnsperf run is bounded to 20 s inside bench.ts.
timeout -k 5 "${BENCH_TIMEOUT:-900}" taskset -c "$BENCH_CLIENT_CPU" node "$HERE/bench.ts" "$@" &
echo "$!" >>"$BENCH_PIDFILE"
wait "$!"
