#!/usr/bin/env bash
# Serving DNS over TLS: hush against Debian's dnsdist 1.7.3 (addTLSLocal) in
# the same run, with the same P-256 certificate, on loopback:
#  - dnsperf -m dot: queries per second and the server's CPU per answer for
#    a cached name (both forward to one unbound and answer from their caches)
#    and a blocked one (hush: a deny entry; dnsdist: SpoofAction), 8 kept-open
#    connections;
#  - new TLS 1.3 connections per second, each a handshake, one query for a
#    cached name and its answer, with full handshakes and with resumption
#    (the previous connection's ticket offered), and the server's CPU per
#    connection; the server pinned to core 0, the client (tls_client.c, two
#    processes) to core 1;
#  - the RSS an idle DoT connection costs, with 10,000 connections open at
#    once, each having asked one question.
# Not a timed test: run by hand, figures to docs/BENCHMARKS.md.
#   bash tests/bench/dot.sh [BUILD_DIR] [SECONDS] [IDLE_CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-5}
idle_n=${3:-10000}
rounds=${4:-2}
source tests/bench/tls_common.sh

# Each idle connection is a descriptor in the client and one in the server.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((idle_n + 200)) ]; then
  echo "RLIMIT_NOFILE $(ulimit -n) is below $idle_n connections (raise the hard limit)" >&2
  exit 1
fi

cc -O2 -Wall -o "$work/tls_client" tests/bench/tls_client.c -lssl -lcrypto

unbound_port=$(port); hush_dns=$(port); hush_dot=$(port); dd_dns=$(port); dd_dot=$(port)

bench_certificate dns.bench.test DNS:dns.bench.test,DNS:localhost

bench_unbound "$unbound_port"

# The slots must hold every idle connection: one worker, 20,000 slots, and
# no idle timeout within the run.
cat > "$work/hush.toml" <<CONF
[server]
listen = ["127.0.0.1:$hush_dns"]
threads = 1
user = ""
data_dir = "$work/hush-data"
[upstream]
servers = ["127.0.0.1:$unbound_port"]
[http]
listen = ""
[querylog]
enabled = false
[access]
rate_limit = 0
[tcp]
max_connections = 20000
max_per_client = 20000
idle_timeout_ms = 600000
[dot]
listen = ["127.0.0.1:$hush_dot"]
[tls]
cert = "$work/cert.pem"
key = "$work/key.pem"
[blocking]
deny = ["ads.bench.test"]
CONF
mkdir -p "$work/hush-data"
taskset -c 0 "$hush" serve --config "$work/hush.toml" > "$work/hush.log" 2>&1 &
hush_pid=$!
pids+=($hush_pid)

cat > "$work/dnsdist.conf" <<CONF
setLocal("127.0.0.1:$dd_dns")
setACL({"127.0.0.0/8"})
newServer({address="127.0.0.1:$unbound_port", checkName="www.bench.test."})
pc = newPacketCache(100000)
getPool(""):setCache(pc)
addTLSLocal("127.0.0.1:$dd_dot", "$work/cert.pem", "$work/key.pem")
addAction("ads.bench.test.", SpoofAction("0.0.0.0"))
setMaxTCPConnectionsPerClient(20000)
setTCPRecvTimeout(600)
CONF
taskset -c 0 dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" > "$work/dnsdist.log" 2>&1 &
dd_pid=$!
pids+=($dd_pid)

wait_for() {  # port
  for _ in $(seq 100); do
    if kdig @127.0.0.1 -p "$1" +tls +time=1 +retry=0 +short www.bench.test A 2>/dev/null | grep -q 192.0.2.1; then
      return 0
    fi
    sleep 0.1
  done
  echo "nothing answers DoT on $1" >&2
  exit 1
}
wait_for "$hush_dot"
wait_for "$dd_dot"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

connect() {  # label pid port resume
  local before after out n reused secs
  before=$(cpu_ticks "$2")
  out=$(taskset -c 1 "$work/tls_client" connect 127.0.0.1 "$3" "$seconds" "$4" 2)
  after=$(cpu_ticks "$2")
  read -r _ n _ reused _ failed _ secs <<< "$out"
  awk -v l="$1" -v r="$4" -v n="$n" -v u="$reused" -v f="$failed" -v s="$secs" -v t=$((after - before)) -v hz="$hz" \
    'BEGIN { printf "%-8s %-13s %7.0f connections/s  %6.1f us CPU/connection  (%d of %d resumed, %d failed)\n",
             l, r ? "resumed" : "full", n / s, t / hz * 1e6 / (n ? n : 1), u, n, f }'
}

perf() {  # label pid port name
  local before after out
  echo "$4 A" > "$work/query"
  before=$(cpu_ticks "$2")
  out=$(taskset -c 1 dnsperf -m dot -s 127.0.0.1 -p "$3" -d "$work/query" -l "$seconds" -c 8 -q 256 2>&1 || true)
  after=$(cpu_ticks "$2")
  echo "$out" | awk -v l="$1" -v n="$4" -v t=$((after - before)) -v hz="$hz" '
    /Queries completed:/ { done = $3 } /Queries lost:/ { lost = $3 } /Queries per second:/ { qps = $4 }
    END { printf "%-8s dot %-16s %8.0f QPS  %6.1f us CPU/answer  (%d lost)\n", l, n, qps, t / hz * 1e6 / (done ? done : 1), lost }'
}

for round in $(seq "$rounds"); do
  for name in www.bench.test ads.bench.test; do
    perf hush "$hush_pid" "$hush_dot" "$name"
    perf dnsdist "$dd_pid" "$dd_dot" "$name"
  done
  for resume in 0 1; do
    connect hush "$hush_pid" "$hush_dot" "$resume"
    connect dnsdist "$dd_pid" "$dd_dot" "$resume"
  done
done

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
idle() {  # label pid port
  local before after
  sleep 1
  before=$(rss "$2")
  mkfifo "$work/hold"
  taskset -c 1 "$work/tls_client" idle 127.0.0.1 "$3" "$idle_n" < "$work/hold" > "$work/idle.out" &
  local client=$!
  exec 9> "$work/hold"
  for _ in $(seq 3000); do
    grep -q ready "$work/idle.out" 2>/dev/null && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q ready "$work/idle.out"; then
    echo "$1: the idle connections did not all open" >&2
    exec 9>&-
    wait "$client" || true
    rm -f "$work/hold"
    return
  fi
  sleep 1
  after=$(rss "$2")
  awk -v l="$1" -v n="$idle_n" -v b="$before" -v a="$after" \
    'BEGIN { printf "%-8s idle DoT connections: %d, RSS %.1f -> %.1f MiB, %.1f KiB each\n", l, n, b / 1024, a / 1024, (a - b) / n }'
  exec 9>&-
  wait "$client" || true
  rm -f "$work/hold"
}
idle hush "$hush_pid" "$hush_dot"
idle dnsdist "$dd_pid" "$dd_dot"
