#!/usr/bin/env bash
# The cost of an encrypted upstream: hush, then dnsdist 1.7.3 (its backends
# over UDP, DoT and DoH), forwarding cache misses to one unbound 1.17 on
# loopback over plain UDP, DNS over TLS (tls://) and DNS over HTTPS
# (https://, libcurl's multi interface over nghttp2), one after another in
# the same run, each pinned to core 0. For each: the mean latency (and its
# standard deviation) dnsperf sees at a fixed 2,000 queries/s (every name
# new, so every answer is a miss), and the forwarder's CPU per answer. Then the client cost of HTTP/2 itself: h2load
# (nghttp2's own client) sending RFC 8484 GETs straight to unbound's DoH
# port, its CPU per request; the gap to hush's DoH CPU is what libcurl's
# per-transfer set-up costs (the comment in net/https_upstreams.hpp).
# Not a timed test: run by hand, figures to docs/BENCHMARKS.md.
#   bash tests/bench/upstream_tls.sh [BUILD_DIR] [QUERIES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
queries=${2:-20000}
rounds=${3:-2}
source tests/bench/tls_common.sh

udp=$(port); dot=$(port); doh=$(port)

bench_certificate unbound.bench IP:127.0.0.1

cat > "$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$udp
  interface: 127.0.0.1@$dot
  interface: 127.0.0.1@$doh
  tls-port: $dot
  https-port: $doh
  http-endpoint: "/dns-query"
  tls-service-key: "$work/key.pem"
  tls-service-pem: "$work/cert.pem"
  incoming-num-tcp: 256
  num-threads: 1
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: ""
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "." refuse
  local-zone: "bench." redirect
  local-data: "bench. 3600 IN A 192.0.2.1"
remote-control:
  control-enable: no
CONF
taskset -c 1 unbound -d -c "$work/unbound.conf" > "$work/unbound.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  dig @127.0.0.1 -p "$udp" +time=1 +tries=1 +short warm.bench A 2>/dev/null | grep -q 192.0.2.1 && break
  sleep 0.1
done

round=0
# Waits for the server's first answer, measures it, stops it.
measure_server() {  # label pid port
  local dns=$3
  for _ in $(seq 100); do
    dig @127.0.0.1 -p "$dns" +time=1 +tries=1 +short "warm$round.bench" A 2>/dev/null | grep -q 192.0.2.1 && break
    sleep 0.1
  done
  measure "$1" "$2" "$dns"
  kill "$2"
  wait "$2" 2>/dev/null || true
}

# measure LABEL PID DNS_PORT: dnsperf's misses through the forwarder at PID.
measure() {
  local names before after
  names="$work/names$round"
  awk -v n="$queries" -v r="$round" 'BEGIN { for (i = 0; i < n; i++) printf "m%d-%d.bench A\n", r, i }' > "$names"
  before=$(awk '{print $14 + $15}' "/proc/$2/stat")
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$3" -d "$names" -n 1 -Q 2000 -c 4 -q 200 \
    > "$work/perf$round.txt" 2>&1 || true
  after=$(awk '{print $14 + $15}' "/proc/$2/stat")
  awk -v l="$1" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    /Queries completed:/ { done = $3 }
    /Average Latency/ { avg = $4 * 1000 }
    /Latency StdDev/ { sd = $4 * 1000 }
    END { printf "%-16s %6d answered  mean %.2f ms (stddev %.2f)  %5.1f us CPU/answer\n",
          l, done, avg, sd, t / hz * 1e6 / (done ? done : 1) }' "$work/perf$round.txt"
}

run() {  # label upstream
  round=$((round + 1))
  local dns hush_pid
  dns=$(port)
  mkdir -p "$work/data$round"
  cat > "$work/hush$round.toml" <<CONF
[server]
listen = ["127.0.0.1:$dns"]
threads = 1
user = ""
data_dir = "$work/data$round"
[upstream]
servers = ["$2"]
tls_ca_file = "$work/cert.pem"
[http]
listen = ""
[querylog]
enabled = false
[access]
rate_limit = 0
CONF
  taskset -c 0 "$hush" serve --config "$work/hush$round.toml" > "$work/hush$round.log" 2>&1 &
  hush_pid=$!
  pids+=($hush_pid)
  measure_server "hush $1" "$hush_pid" "$dns"
}

# dnsdist with one backend, no cache: the same misses.
run_dnsdist() {  # label newServer-fields
  round=$((round + 1))
  local dns dd_pid
  dns=$(port)
  cat > "$work/dnsdist$round.conf" <<CONF
setLocal("127.0.0.1:$dns")
setACL({"127.0.0.0/8"})
newServer({$2, checkName="warm.bench."})
CONF
  taskset -c 0 dnsdist --supervised --disable-syslog -C "$work/dnsdist$round.conf" > "$work/dnsdist$round.log" 2>&1 &
  dd_pid=$!
  pids+=($dd_pid)
  measure_server "dnsdist $1" "$dd_pid" "$dns"
}

for r in $(seq "$rounds"); do
  run udp "127.0.0.1:$udp"
  run_dnsdist udp "address=\"127.0.0.1:$udp\""
  run tls "tls://127.0.0.1:$dot"
  run_dnsdist tls "address=\"127.0.0.1:$dot\", tls=\"openssl\", subjectName=\"unbound.bench\", validateCertificates=false"
  run https "https://127.0.0.1:$doh/dns-query"
  run_dnsdist https "address=\"127.0.0.1:$doh\", tls=\"openssl\", subjectName=\"unbound.bench\", validateCertificates=false, dohPath=\"/dns-query\""
done

# HTTP/2 through nghttp2 alone: h2load's CPU per request against the same
# unbound (one connection, 64 streams; GETs of one name unbound answers).
q=$(python3 -c 'import base64,struct
m=struct.pack(">HHHHHH",0,0x0100,1,0,0,0)+b"\x02h2\x05bench\x00\x00\x01\x00\x01"
print(base64.urlsafe_b64encode(m).decode().rstrip("="))')
/usr/bin/time -f "%U %S" -o "$work/h2time" taskset -c 0 h2load -n "$queries" -c 1 -m 64 \
  "https://127.0.0.1:$doh/dns-query?dns=$q" > "$work/h2load.txt" 2>&1 || true
awk -v n="$queries" '{ printf "h2load     %d requests to unbound: %.1f us client CPU/request\n", n, ($1 + $2) * 1e6 / n }' \
  "$work/h2time"
grep -E "^requests:|^status codes:" "$work/h2load.txt"
