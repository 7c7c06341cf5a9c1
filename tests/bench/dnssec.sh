#!/usr/bin/env bash
# DNSSEC cost: the same hush binary with dnssec.validate off and on, in turn
# in one run, against unbound serving a zone of N names signed here with
# ldns-signzone (the trust anchor is the zone's DS). For each setting:
#   - CPU per miss: N unique names asked once each (dnsperf, at most RATE/s),
#     hush's CPU time (/proc/PID/stat, all threads) divided by N;
#   - cached QPS: then 1,000 of those names, now cached, at full rate for
#     SECONDS with dnsperf.
# Loopback only; not part of the test suite.
#   bash tests/bench/dnssec.sh [N] [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/../.."
names=${1:-20000}
seconds=${2:-10}
rate=${3:-5000}
hush=${HUSH:-build/hush}
for tool in dnsperf unbound ldns-keygen ldns-signzone; do
  command -v "$tool" >/dev/null || { echo "dnssec bench: needs $tool (apt-get install dnsperf unbound ldnsutils)" >&2; exit 2; }
done
[ -x "$hush" ] || { echo "dnssec bench: build hush first ($hush)" >&2; exit 2; }

dir=$(mktemp -d /tmp/hush-dnssec-bench.XXXXXX)
hush_pid=""
unbound_pid=""
cleanup() {
  [ -n "$hush_pid" ] && kill "$hush_pid" 2>/dev/null || true
  [ -n "$unbound_pid" ] && kill "$unbound_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port)

(
  cd "$dir"
  {
    printf '$ORIGIN bench.\n$TTL 3600\n@ IN SOA ns admin 1 3600 600 86400 3600\n@ IN NS ns\nns IN A 127.0.0.1\n'
    for i in $(seq 0 $((names - 1))); do printf 'h%d IN A 192.0.2.%d\n' "$i" $((i % 250 + 1)); done
  } > bench.zone
  key=$(ldns-keygen -a ECDSAP256SHA256 -k bench.)
  ldns-signzone bench.zone "$key"
  cp "$key.ds" anchor.key
)
cat > "$dir/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$up
  port: $up
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  use-syslog: no
  do-ip6: no
  so-reuseport: no
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
auth-zone:
  name: "bench."
  zonefile: "$dir/bench.zone.signed"
  for-downstream: yes
  for-upstream: no
  fallback-enabled: no
CONF
unbound -d -c "$dir/unbound.conf" > "$dir/unbound.log" 2>&1 &
unbound_pid=$!
for _ in $(seq 50); do dig +short +tries=1 +time=1 -p "$up" @127.0.0.1 h1.bench >/dev/null 2>&1 && break; sleep 0.2; done

for i in $(seq 0 $((names - 1))); do echo "h$i.bench A"; done > "$dir/misses.txt"
head -1000 "$dir/misses.txt" > "$dir/hits.txt"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {
  local validate=$1 port
  port=$(free_port)
  printf '[server]\nthreads = 1\n[querylog]\nenabled = false\n[access]\nrate_limit = 0\n[http]\nlisten = ""\n[dnssec]\nvalidate = %s\ntrust_anchor = "%s"\n' \
    "$validate" "$dir/anchor.key" > "$dir/hush.toml"
  "$hush" serve -c "$dir/hush.toml" --listen "127.0.0.1:$port" --upstream "127.0.0.1:$up" \
    --data-dir "$dir/data-$validate" > "$dir/hush-$validate.log" 2>&1 &
  hush_pid=$!
  for _ in $(seq 50); do dig +short +tries=1 +time=1 -p "$port" @127.0.0.1 ns.bench >/dev/null 2>&1 && break; sleep 0.2; done
  local hz t0 t1 qps
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks "$hush_pid")
  dnsperf -s 127.0.0.1 -p "$port" -d "$dir/misses.txt" -n 1 -Q "$rate" -c 4 -q 200 > "$dir/miss-$validate.txt" 2>&1
  t1=$(cpu_ticks "$hush_pid")
  dnsperf -s 127.0.0.1 -p "$port" -d "$dir/hits.txt" -l "$seconds" -c 4 -q 500 > "$dir/hit-$validate.txt" 2>&1
  qps=$(awk '/Queries per second/ {print $4}' "$dir/hit-$validate.txt")
  printf 'validate=%-5s  CPU per miss %7.1f us  (misses answered: %s, %s)  cached QPS %s  AD on a hit: %s\n' \
    "$validate" "$(echo "($t1 - $t0) * 1000000 / $hz / $names" | bc -l)" \
    "$(awk '/Queries completed/ {print $3}' "$dir/miss-$validate.txt")" \
    "$(awk '/Response codes/ {print $3, $4}' "$dir/miss-$validate.txt")" "$qps" \
    "$(dig +dnssec +tries=1 +time=2 -p "$port" @127.0.0.1 h1.bench | grep -c 'flags:.* ad')"
  kill "$hush_pid"
  wait "$hush_pid" 2>/dev/null || true
  hush_pid=""
}

echo "dnssec bench: $names signed names, miss rate <= $rate/s, cached load ${seconds}s"
run false
run true
run false
run true
