#!/usr/bin/env bash
# What schedules cost, with the 1M-name synthetic list loaded (benchlib.py
# gen, seed 20241121) and hush `--threads 1`:
# - publication at a window's edge: a schedule for everyone whose window opens
#   at the next minute and closes a minute later; hush logs when after each
#   edge the new policy was published and how long its build took (the
#   compiled list is mapped, not parsed again), and dig from 127.0.0.1, asked
#   in a loop, says when the schedule's name changed (dig's own start-up
#   included);
# - per-query cost: the blocked mix (a tenth of the list) under dnsperf with
#   no schedules, with 50 in a window now (40 for groups of their own, each
#   with a service preset, and 10 for everyone, each with a rule, so every
#   query meets 10 of them), and with none again, in the same run: QPS and
#   hush's CPU µs per answer.
# Not part of CI.
# Usage: tests/bench/schedules.sh BINARY [SECONDS] [ROUNDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
BIN=$(realpath "$1")
SECONDS_PER_RUN=${2:-10}
ROUNDS=${3:-2}
DATA=${BENCH_OUT:-$HERE/out}/logcost-data
[ -f "$DATA/q-blocked.txt" ] || python3 "$HERE/benchlib.py" gen --out "$DATA" --domains 1000000 --miss-queries 10 >&2
W=$(mktemp -d /tmp/hush-schedules-bench-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25463 DNS=25464 HTTP=25465
bench_upstream_conf "$W/unbound.conf" $UP "$W"
unbound -d -c "$W/unbound.conf" >"$W/unbound.log" 2>&1 &
PIDS+=($!)
printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 1\n[upstream]\nservers = ["127.0.0.1:%s"]\n[http]\nlisten = "127.0.0.1:%s"\n[[lists]]\nname = "bench"\npath = "%s"\n' \
  $DNS "$W/data" $UP $HTTP "$DATA/blocklist.domains" >"$W/hush.toml"
"$BIN" serve -c "$W/hush.toml" --user "" >"$W/hush.log" 2>&1 &
H=$!
PIDS+=($H)
probe=$(cat "$DATA/probe-name")
for _ in $(seq 600); do [ "$(dig @127.0.0.1 -p $DNS +short +time=1 +tries=1 "$probe")" = 0.0.0.0 ] && break; sleep 0.1; done
hush_cli() { "$BIN" "$@" -c "$W/hush.toml" >/dev/null; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
answer() { dig @127.0.0.1 -p $DNS +short +time=1 +tries=1 "$1" | head -1; }

# --- publication at a window's edge
from=$(date -d '+1 min' +%H:%M)
to=$(date -d '+2 min' +%H:%M)
hush_cli schedule add --days daily --from "$from" --to "$to" --block '||edge.bench^'
edge_open=$(date -d "$from" +%s)
edge_close=$(date -d "$to" +%s)
[ "$edge_close" -gt "$edge_open" ] || edge_close=$((edge_close + 86400))
for edge in open close; do
  want=$([ $edge = open ] && echo 0.0.0.0 || echo 192.0.2.1)
  at=$([ $edge = open ] && echo "$edge_open" || echo "$edge_close")
  while [ "$(answer edge.bench)" != "$want" ]; do
    [ "$(date +%s)" -lt $((at + 30)) ] || { echo "edge $edge: no change (log: $W/hush.log)" >&2; exit 1; }
    sleep 0.01
  done
  seen_ms=$(( $(date +%s%3N) - at * 1000 ))
  line=$(grep -o 'policy published [0-9]* ms after it (built in [0-9]* ms)' "$W/hush.log" | tail -1)
  published=$(echo "$line" | awk '{print $3}')
  built=$(echo "$line" | awk '{print $9}')
  echo "edge=$edge list_names=1000000 published_after_edge_ms=$published build_ms=$built first_changed_dig_after_edge_ms=$seen_ms"
done
"$BIN" schedule ls --json -c "$W/hush.toml" | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["schedules"]]' |
  while read -r id; do hush_cli schedule rm "$id"; done

# --- per-query cost: none, 50, none
services=(youtube tiktok instagram facebook snapchat netflix twitch roblox fortnite discord)
measure() {
  local label=$1 t0 t1 out answers qps us
  sleep 3  # the file's change is picked up within 2 s
  t0=$(ticks $H)
  out=$(dnsperf -s 127.0.0.1 -p $DNS -d "$DATA/q-blocked.txt" -l "$SECONDS_PER_RUN" -c 4 -q 200 2>&1)
  t1=$(ticks $H)
  answers=$(echo "$out" | awk '/Queries completed/ {print $3}')
  qps=$(echo "$out" | awk '/Queries per second/ {print $4}')
  us=$(awk -v t=$((t1 - t0)) -v a="$answers" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / a}')
  echo "schedules=$label mix=blocked qps=$qps answers=$answers cpu_us_per_answer=$us"
}
for round in $(seq "$ROUNDS"); do
  measure 0
  for i in $(seq 40); do
    hush_cli schedule add --group "g$i" --days daily --from 00:00 --to 24:00 --block-service "${services[$((i % 10))]}"
  done
  for i in $(seq 10); do
    hush_cli schedule add --days daily --from 00:00 --to 24:00 --block "||rule$i.bench^"
  done
  for _ in $(seq 100); do [ "$(answer rule7.bench)" = 0.0.0.0 ] && break; sleep 0.1; done
  [ "$(answer rule7.bench)" = 0.0.0.0 ] || { echo "the 50 schedules are not in force" >&2; exit 1; }
  measure 50
  rm -f "$W/data/schedules.json"
  measure 0
done
