#!/usr/bin/env bash
# Serving DNS over HTTPS: hush against Debian's dnsdist 1.7.3 (addDOHLocal)
# with the same P-256 certificate, HTTP/2 GETs from h2load on loopback,
# for a cached name (both forward to one unbound and answer from their
# caches) and a blocked one (hush: a deny entry; dnsdist: SpoofAction). Each
# server pinned to core 0 and loaded alone, h2load on core 1; CPU is the
# server's utime+stime over the run divided by the answers. First, while
# both are fresh, the RSS an idle HTTP/2 connection costs each (a thousand
# connections that said hello and nothing more, measured after a first
# hundred so that neither is charged for what its first connections set
# up). Not a timed test: run by hand, figures to docs/BENCHMARKS.md.
#   bash tests/bench/doh.sh [BUILD_DIR] [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-8}
rounds=${3:-2}
source tests/bench/tls_common.sh

unbound_port=$(port); hush_dns=$(port); hush_doh=$(port); dd_dns=$(port); dd_doh=$(port)

bench_certificate dns.bench.test DNS:dns.bench.test,DNS:localhost

bench_unbound "$unbound_port"

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
[doh]
listen = ["127.0.0.1:$hush_doh"]
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
addDOHLocal("127.0.0.1:$dd_doh", "$work/cert.pem", "$work/key.pem", "/dns-query")
addAction("ads.bench.test.", SpoofAction("0.0.0.0"))
setMaxTCPConnectionsPerClient(20000)
CONF
taskset -c 0 dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" > "$work/dnsdist.log" 2>&1 &
dd_pid=$!
pids+=($dd_pid)

wait_for() {  # port
  for _ in $(seq 100); do
    if curl -sk --max-time 1 -o /dev/null "https://127.0.0.1:$1/dns-query?dns=AAABAAABAAAAAAAAA3d3dwViZW5jaAR0ZXN0AAABAAE"; then return 0; fi
    sleep 0.1
  done
  echo "nothing answers on $1" >&2
  exit 1
}
wait_for "$hush_doh"
wait_for "$dd_doh"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# The load: h2load (nghttp2-client), 8 HTTP/2 connections with 32 streams
# each, RFC 8484 GETs of one question. dnsperf 2.10's -m doh loses most of
# its queries against either server here (it waits on answers it has
# already read: DNS-OARC/dnsperf issues 240 and 272), so it cannot load
# them.
run() {  # label pid port name
  local q before after out done secs
  q=$(python3 -c 'import base64,struct,sys; n=sys.argv[1]
m=struct.pack(">HHHHHH",0,0x0100,1,0,0,0)+b"".join(bytes([len(l)])+l.encode() for l in n.split("."))+b"\0\0\1\0\1"
print(base64.urlsafe_b64encode(m).decode().rstrip("="))' "$4")
  local url="https://127.0.0.1:$3/dns-query?dns=$q"
  h2load -n 2000 -c 2 -m 8 "$url" > /dev/null 2>&1 || true  # warms the cache
  before=$(cpu_ticks "$2")
  out=$(taskset -c 1 h2load -D "$seconds" -c 8 -m 32 "$url" 2>&1)
  after=$(cpu_ticks "$2")
  done=$(echo "$out" | awk '/^requests:/ {print $8}')
  secs=$(echo "$out" | awk '/^finished in/ {sub("s,", "", $3); print $3}')
  awk -v l="$1" -v n="$4" -v d="$done" -v s="$secs" -v t=$((after - before)) -v hz="$hz" \
    -v codes="$(echo "$out" | awk '/^status codes:/ {print $3, $4}')" \
    'BEGIN { printf "%-8s %-16s %10.0f QPS  %6.1f us CPU/answer  (%s)\n", l, n, d / s, t / hz * 1e6 / (d ? d : 1), codes }'
}

# Idle connections: TLS handshake, HTTP/2 preface and SETTINGS, then nothing.
idle() {  # label pid port
  python3 - "$1" "$2" "$3" <<'PY'
import socket, ssl, sys, time
label, pid, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rss():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
n = 1000
conns = []
def hello(count):
    for _ in range(count):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        conns.append(s)
hello(100)
time.sleep(1.0)
before = rss()
hello(n)
time.sleep(1.0)
after = rss()
print("%-8s idle HTTP/2 connections: %d, RSS %+.1f MiB, %.1f KiB each" % (label, n, (after - before) / 2**20, (after - before) / n / 1024))
for s in conns:
    s.close()
PY
}
ulimit -n 8192 2>/dev/null || true
idle hush "$hush_pid" "$hush_doh"
idle dnsdist "$dd_pid" "$dd_doh"

for round in $(seq "$rounds"); do
  run hush "$hush_pid" "$hush_doh" www.bench.test
  run dnsdist "$dd_pid" "$dd_doh" www.bench.test
  run hush "$hush_pid" "$hush_doh" ads.bench.test
  run dnsdist "$dd_pid" "$dd_doh" ads.bench.test
done
