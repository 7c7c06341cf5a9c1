#!/usr/bin/env bash
# Sync delay: a primary and a replica on loopback; each round adds a local
# record on the primary (hush local add) and times how long until dig
# against the replica answers it. Prints each delay and the median. Not part
# of CI.
# Usage: tests/bench/syncdelay.sh BINARY [ROUNDS]
set -euo pipefail
BIN=$(realpath "$1")
ROUNDS=${2:-7}
W=$(mktemp -d /tmp/hush-syncdelay-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
P_DNS=25461 P_HTTP=25462 R_DNS=25463 R_HTTP=25464
printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 1\n[upstream]\nservers = ["127.0.0.1:9"]\n[http]\nlisten = "127.0.0.1:%s"\n' \
  $P_DNS "$W/primary" $P_HTTP >"$W/primary.toml"
mkdir -p "$W/primary"
TOKEN=$("$BIN" token create --scope sync -d "$W/primary")
printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 1\n[upstream]\nservers = ["127.0.0.1:9"]\n[http]\nlisten = "127.0.0.1:%s"\n[sync]\nprimary = "http://127.0.0.1:%s"\ntoken = "%s"\n' \
  $R_DNS "$W/replica" $R_HTTP $P_HTTP "$TOKEN" >"$W/replica.toml"
"$BIN" serve -c "$W/primary.toml" --user "" >"$W/primary.log" 2>&1 &
PIDS+=($!)
"$BIN" serve -c "$W/replica.toml" --user "" >"$W/replica.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$R_HTTP/metrics" | grep -q '^hush_sync_last_heard_seconds [1-9]' && break; sleep 0.1; done
now_ms() { date +%s%3N; }
delays=()
for i in $(seq "$ROUNDS"); do
  "$BIN" local add "r$i.lan" A "192.168.9.$i" -d "$W/primary" >/dev/null
  t0=$(now_ms)
  until [ "$(dig @127.0.0.1 -p $R_DNS +short +time=1 +tries=1 "r$i.lan" A)" = "192.168.9.$i" ]; do
    [ $(($(now_ms) - t0)) -gt 20000 ] && { echo "round $i: no answer after 20 s"; cat "$W/replica.log"; exit 1; }
    sleep 0.02
  done
  d=$(($(now_ms) - t0))
  delays+=("$d")
  echo "round $i: replica answered after $d ms"
  sleep 1
done
printf '%s\n' "${delays[@]}" | sort -n | awk '{a[NR] = $1} END {print "median " a[int((NR + 1) / 2)] " ms over " NR " rounds"}'
