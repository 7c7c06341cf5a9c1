#!/usr/bin/env bash
# What dnstap export costs per answer: hush `--threads 1` with [dnstap] off
# and on (fstrm_capture reading the stream into /dev/null), on a blocked mix
# (1,000 listed names) and a cached mix (1,000 names under bench., answered
# by the shared loopback unbound once, then from the cache), each run a
# bounded dnsperf load; prints QPS, hush's CPU µs per answer, and the
# answers sent and dropped (/metrics). Not part of CI.
# Usage: tests/bench/dnstapcost.sh BINARY [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
BIN=$(realpath "$1")
SECONDS_PER_RUN=${2:-10}
W=$(mktemp -d /tmp/hush-dnstapcost-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25453 DNS=25454 HTTP=25455
bench_upstream_conf "$W/unbound.conf" $UP "$W"
unbound -d -c "$W/unbound.conf" >"$W/unbound.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1000); do echo "ad$i.example"; done >"$W/list.txt"
for i in $(seq 1000); do echo "ad$i.example A"; done >"$W/blocked.q"
for i in $(seq 1000); do echo "n$i.bench A"; done >"$W/cached.q"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
for tap in off on; do
  cfg="$W/hush-$tap.toml"
  printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 1\n[upstream]\nservers = ["127.0.0.1:%s"]\n[http]\nlisten = "127.0.0.1:%s"\n[[lists]]\npath = "%s"\n' \
    $DNS "$W/data-$tap" $UP $HTTP "$W/list.txt" >"$cfg"
  if [ $tap = on ]; then
    rm -f "$W/tap.sock"
    fstrm_capture -t protobuf:dnstap.Dnstap -u "$W/tap.sock" -w /dev/null >"$W/capture.log" 2>&1 &
    CAP=$!
    PIDS+=($CAP)
    for _ in $(seq 50); do [ -S "$W/tap.sock" ] && break; sleep 0.1; done
    printf '[dnstap]\nsocket = "%s"\n' "$W/tap.sock" >>"$cfg"
  fi
  "$BIN" serve -c "$cfg" --user "" >"$W/hush-$tap.log" 2>&1 &
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
    echo "dnstap=$tap mix=$mix qps=$qps answers=$answers cpu_us_per_answer=$us sent=$(metric hush_dnstap_sent_total) dropped=$(metric hush_dnstap_dropped_total)"
  done
  kill $H; wait $H 2>/dev/null || true
  [ $tap = on ] && { kill -INT $CAP; wait $CAP 2>/dev/null || true; }
done
