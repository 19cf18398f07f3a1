#!/usr/bin/env bash
# RssAnon/RssFile of an idle daemon (and of each worker with -workers N): starts dist/main.js with a
# small Corefile (cache, forward, prometheus, health) inside a private network namespace, waits 6 s,
# scrapes /metrics once, waits 1 s and reads /proc/PID/status of the daemon and its children.
# Usage: bash bench/idle-memory.sh [WORKERS (1)]
set -euo pipefail
if [[ "${NLD_IDLE_NETNS:-}" != "1" ]]; then
  export NLD_IDLE_NETNS=1
  userns=()
  [[ $EUID -eq 0 ]] || userns=(-r)
  exec unshare "${userns[@]}" -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/nld-idle.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat >"$work/Corefile" <<CF
.:5353 {
    bind 127.0.0.1
    cache 30
    forward . 127.0.0.2:53
    prometheus 127.0.0.1:9153
    health 127.0.0.1:8080
}
CF
"$ROOT/node_modules/.bin/node" "$ROOT/dist/main.js" -conf "$work/Corefile" -workers "${1:-1}" >"$work/log" 2>&1 &
pid=$!
sleep 6
curl -s 127.0.0.1:9153/metrics >/dev/null || true
sleep 1
for p in $pid $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
  echo "pid $p $(grep -E 'RssAnon|RssFile' "/proc/$p/status" | tr -s ' \t\n' ' ')"
done
kill "$pid"
wait "$pid" || true
