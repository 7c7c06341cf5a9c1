#!/usr/bin/env bash
# What the JSON-lines export costs per answer: hush `--threads 1` with
# [export] off, to a file, and to a UDP syslog receiver (a python socket
# reading into nothing), on a blocked and a cached mix (as dnstapcost.sh);
# prints QPS, hush's CPU µs per answer, and lines sent and dropped
# (/metrics). Not part of CI.
# Usage: tests/bench/exportcost.sh BINARY [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
BIN=$(realpath "$1")
SECONDS_PER_RUN=${2:-10}
W=$(mktemp -d /tmp/hush-exportcost-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25471 DNS=25472 HTTP=25473 SYSLOG=25474
bench_upstream_conf "$W/unbound.conf" $UP "$W"
unbound -d -c "$W/unbound.conf" >"$W/unbound.log" 2>&1 &
PIDS+=($!)
python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(('127.0.0.1', $SYSLOG))
while True: s.recv(65536)
" &
PIDS+=($!)
for i in $(seq 1000); do echo "ad$i.example"; done >"$W/list.txt"
for i in $(seq 1000); do echo "ad$i.example A"; done >"$W/blocked.q"
for i in $(seq 1000); do echo "n$i.bench A"; done >"$W/cached.q"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
for mode in off file syslog; do
  cfg="$W/hush-$mode.toml"
  printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 1\n[upstream]\nservers = ["127.0.0.1:%s"]\n[http]\nlisten = "127.0.0.1:%s"\n[[lists]]\npath = "%s"\n' \
    $DNS "$W/data-$mode" $UP $HTTP "$W/list.txt" >"$cfg"
  [ $mode = file ] && printf '[export]\nfile = "%s"\nmax_file_mib = 64\n' "$W/queries.jsonl" >>"$cfg"
  [ $mode = syslog ] && printf '[export]\nsyslog = "udp://127.0.0.1:%s"\n' $SYSLOG >>"$cfg"
  "$BIN" serve -c "$cfg" --user "" >"$W/hush-$mode.log" 2>&1 &
  H=$!
  PIDS+=($H)
  for _ in $(seq 100); do dig @127.0.0.1 -p $DNS +time=1 +tries=1 n0.bench >/dev/null 2>&1 && break; sleep 0.1; done
  dnsperf -s 127.0.0.1 -p $DNS -d "$W/cached.q" -n 1 -q 100 >/dev/null 2>&1  # fill the cache
  for mix in blocked cached; do
    t0=$(ticks $H)
    out=$(dnsperf -s 127.0.0.1 -p $DNS -d "$W/$mix.q" -l "$SECONDS_PER_RUN" -c 4 -q 200 2>&1)
    t1=$(ticks $H)
    answers=$(echo "$out" | awk '/Queries completed/ {print $3}')
    qps=$(echo "$out" | awk '/Queries per second/ {print $4}')
    us=$(awk -v t=$((t1 - t0)) -v a="$answers" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / a}')
    echo "export=$mode mix=$mix qps=$qps answers=$answers cpu_us_per_answer=$us sent=$(metric hush_export_sent_total) dropped=$(metric hush_export_dropped_total)"
  done
  kill $H; wait $H 2>/dev/null || true
  rm -f "$W"/queries.jsonl*
done
