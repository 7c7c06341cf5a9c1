#!/usr/bin/env bash
# What the query log costs per answer: hush `--threads 1` on core 0 with the
# log on and off, dnsperf on core 1, the same loopback upstream (unbound), and
# hush's CPU split by thread (the DNS worker `hush-dns0`, the log writer
# `hush-qlog`, the rest).  Binaries given together are run in turn, each
# configuration in every round, so before/after pairs share the machine's
# state.  Not part of CI.
#
# Usage: tests/bench/logcost.sh [options] BINARY...
#   --data DIR        blocklist.hosts and query files (default: generated in
#                     tests/bench/out/logcost-data, 1M names, seed 20241121)
#   --duration N      seconds per dnsperf run (default 10)
#   --rounds N        rounds over every binary x log x mix (default 2)
#   --mixes "A B"     from: distinct (the whole list shuffled, each name once
#                     a pass), blocked (100,000 names repeated), hit (1,000
#                     cached names), miss (unique names under bench., each
#                     asked once and forwarded; a new file per run)
#                     (default "distinct hit")
#   --perf            perf record -g each run (perf-*.data in the output dir)
#   --toml TEXT       appended to hush's configuration, "\n" for a new line
#                     (e.g. '[server]\nmemory_budget_mib = 0')
#
# Output: one line per run on stdout and in tests/bench/out/logcost/runs.tsv:
# binary, log, mix, round, QPS, answers, CPU µs per answer: all, worker,
# writer, other threads; with the log on, the records written and dropped
# (the query log counts the dropped ones in its totals).
# Safety: loopback only; each load bounded by dnsperf -l; servers started
# here are stopped by PID on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
OUT=${BENCH_OUT:-$HERE/out}/logcost
DATA= DURATION=10 ROUNDS=2 MIXES="distinct hit" PERF=0 TOML= BINS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --mixes) MIXES=$2; shift ;;
    --perf) PERF=1 ;;
    --toml) TOML=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) BINS+=("$1") ;;
  esac
  shift
done
[ ${#BINS[@]} -gt 0 ] || { echo "logcost.sh: give at least one hush binary" >&2; exit 2; }
mkdir -p "$OUT"
if [ -z "$DATA" ]; then
  DATA=${BENCH_OUT:-$HERE/out}/logcost-data
  if [ ! -f "$DATA/q-distinct.txt" ]; then
    python3 "$HERE/benchlib.py" gen --out "$DATA" --domains 1000000 --miss-queries 10 >&2
  fi
fi
HZ=$(getconf CLK_TCK)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null || true' EXIT

free_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    if [ -z "$(ss -Hlnu "sport = :$p")" ] && [ -z "$(ss -Hlnt "sport = :$p")" ]; then echo "$p"; return; fi
  done
  exit 1
}
# ticks by thread kind: "worker writer other"
thread_ticks() {
  local t comm w=0 q=0 o=0 v
  for t in /proc/$1/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    v=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
    case "$comm" in hush-dns*) w=$((w + v)) ;; hush-qlog) q=$((q + v)) ;; *) o=$((o + v)) ;; esac
  done
  echo "$w $q $o"
}

UP_PORT=$(free_port 45100)
bench_upstream_conf "$OUT/upstream.conf" "$UP_PORT" "$OUT"
nice -n -20 taskset -c 1 unbound -d -c "$OUT/upstream.conf" >"$OUT/upstream.log" 2>&1 &
PIDS+=($!)
PROBE=$(cat "$DATA/probe-name")
printf 'hit%04d.bench A\n' $(seq 0 999) >"$OUT/q-hit.txt"
printf 'binary\tlog\tmix\tround\tqps\tanswers\tus_all\tus_worker\tus_writer\tus_other\tlogged\tdropped\n' >"$OUT/runs.tsv"

run_one() { # BIN LOG MIX ROUND
  local bin=$1 logon=$2 mix=$3 round=$4 port file
  port=$(free_port 45200)
  rm -rf "$OUT/data" && mkdir -p "$OUT/data"
  { printf '[access]\nrate_limit = 0\n[cache]\nmax_entries = 10000\n[http]\nlisten = ""\n'
    [ "$logon" = on ] || printf '[querylog]\nenabled = false\n'
    [ -z "$TOML" ] || printf '%b\n' "$TOML"; } >"$OUT/hush.toml"
  python3 "$HERE/benchlib.py" launch --port "$port" --name "$PROBE" --autogroup-nice -20 --timeout 120 \
    --pidfile "$OUT/hush.pid" --log "$OUT/hush.log" -- nice -n -20 taskset -c 0 "$bin" serve \
    --listen "127.0.0.1:$port" --upstream "127.0.0.1:$UP_PORT" --data-dir "$OUT/data" --threads 1 \
    --config "$OUT/hush.toml" --blocklist "$DATA/blocklist.hosts" >/dev/null
  local pid
  pid=$(cat "$OUT/hush.pid")
  PIDS+=("$pid")
  local once=()
  case "$mix" in
    miss) file="$OUT/q-miss.txt" once=(-n 1)
      # Names no earlier run asked, so neither hush's cache nor the log has
      # met them: enough for DURATION s at 250k qps.
      MISS_RUN=$((${MISS_RUN:-0} + 1))
      awk -v n=$((DURATION * 250000)) -v r="$MISS_RUN" -v t="$$" \
        'BEGIN { for (i = 0; i < n; i++) printf "u%07d-%d-%s.bench A\n", i, r, t }' >"$file" ;;
    distinct) file="$DATA/q-distinct.txt"
      [ -f "$file" ] || awk '!/^#/ {print $2 " A"}' "$DATA/blocklist.hosts" | shuf --random-source=<(yes) >"$file" ;;
    blocked) file="$DATA/q-blocked.txt" ;;
    hit) file="$OUT/q-hit.txt"
      taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$file" -n 2 -c 1 -q 8 >/dev/null 2>&1 || true ;;
  esac
  local perfpid= b a
  if [ "$PERF" = 1 ]; then
    taskset -c 1 perf record -q -F 999 -g -p "$pid" -o "$OUT/perf-$(basename "$bin")-$logon-$mix-$round.data" \
      -- sleep "$DURATION" >/dev/null 2>&1 &
    perfpid=$!
  fi
  b=$(thread_ticks "$pid")
  nice -n -20 taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$file" -l "$DURATION" -c 8 -q 256 \
    "${once[@]}" >"$OUT/dnsperf.txt" 2>&1 || true
  a=$(thread_ticks "$pid")
  [ -n "$perfpid" ] && wait "$perfpid" || true
  kill "$pid"
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done  # not our child: poll
  local logged=0 dropped=0
  if [ "$logon" = on ]; then
    logged=$(sqlite3 "$OUT/data/hush.db" "select coalesce(sum(n), 0) from query_blocks" 2>/dev/null || echo 0)
    dropped=$(sqlite3 "$OUT/data/hush.db" "select value from meta where key = 'dropped'" 2>/dev/null)
  fi
  local qps n
  qps=$(awk '/Queries per second:/ {print $4}' "$OUT/dnsperf.txt")
  n=$(awk '/Queries completed:/ {print $3}' "$OUT/dnsperf.txt")
  read -r bw bq bo <<<"$b"
  read -r aw aq ao <<<"$a"
  awk -v bin="$(basename "$bin")" -v lg="$logon" -v mix="$mix" -v r="$round" -v qps="$qps" -v n="$n" \
    -v w=$((aw - bw)) -v q=$((aq - bq)) -v o=$((ao - bo)) -v hz="$HZ" -v lo="${logged:-0}" -v dr="${dropped:-0}" 'BEGIN {
      f = 1e6 / hz / (n > 0 ? n : 1)
      printf "%s\t%s\t%s\t%s\t%.0f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\n", bin, lg, mix, r, qps, n, (w + q + o) * f, w * f, q * f, o * f, lo, dr
    }' | tee -a "$OUT/runs.tsv"
}

for round in $(seq 1 "$ROUNDS"); do
  for mix in $MIXES; do
    for bin in "${BINS[@]}"; do
      for logon in on off; do run_one "$bin" "$logon" "$mix" "$round"; done
    done
  done
done
