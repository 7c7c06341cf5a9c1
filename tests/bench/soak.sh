#!/usr/bin/env bash
# Soak: a bounded mixed load (blocked, cached, forwarded) against hush with
# the query log on, sampling its memory and open descriptors, to show they
# stay flat. Loopback only. Not part of the test suite.
#   bash tests/bench/soak.sh [SECONDS] [QPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
rate=${2:-20000}
hush=${HUSH:-build/hush}
for tool in dnsperf unbound; do
  command -v "$tool" >/dev/null || { echo "soak: needs $tool (apt-get install dnsperf unbound)" >&2; exit 2; }
done
[ -x "$hush" ] || { echo "soak: build hush first ($hush)" >&2; exit 2; }

dir=$(mktemp -d /tmp/hush-soak.XXXXXX)
cleanup() { kill "$hush_pid" "$unbound_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port); port=$(free_port)

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
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." refuse
  local-zone: "soak." redirect
  local-data: "soak. 30 IN A 192.0.2.1"
CONF
unbound -d -c "$dir/unbound.conf" > "$dir/unbound.log" 2>&1 &
unbound_pid=$!

python3 - "$dir" <<'PY'
import random, sys
d = sys.argv[1]
rnd = random.Random(20261121)
blocked = [f"t{i}.tracker{i % 97}.example" for i in range(10000)]
with open(f"{d}/list.txt", "w") as f:
    for n in blocked: f.write(f"0.0.0.0 {n}\n")
with open(f"{d}/queries.txt", "w") as f:
    for i in range(400000):
        r = rnd.random()
        if r < 0.3: f.write(f"{rnd.choice(blocked)} A\n")
        elif r < 0.8: f.write(f"hot{rnd.randrange(200)}.soak A\n")
        else: f.write(f"cold{i}.soak {rnd.choice(['A', 'AAAA'])}\n")
PY
printf '[access]\nrate_limit = 0\n[http]\nlisten = ""\n' > "$dir/hush.toml"
"$hush" serve -c "$dir/hush.toml" --listen "127.0.0.1:$port" --upstream "127.0.0.1:$up" --threads 2 \
  --data-dir "$dir/data" --blocklist "$dir/list.txt" > "$dir/hush.log" 2>&1 &
hush_pid=$!
for _ in $(seq 50); do dig +short +tries=1 +time=1 -p "$port" @127.0.0.1 hot1.soak >/dev/null 2>&1 && break; sleep 0.2; done

sample() {
  local rss fds
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$hush_pid/status")
  fds=$(ls "/proc/$hush_pid/fd" | wc -l)
  printf '%6ss  rss %7s KiB  fds %4s\n' "$1" "$rss" "$fds"
}
echo "soak: ${seconds}s at up to ${rate} qps, hush pid $hush_pid"
sample 0
dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries.txt" -l "$seconds" -Q "$rate" -c 8 -q 500 > "$dir/dnsperf.txt" 2>&1 &
perf_pid=$!
elapsed=0
while kill -0 "$perf_pid" 2>/dev/null && [ "$elapsed" -lt $((seconds + 30)) ]; do
  sleep 30; elapsed=$((elapsed + 30)); sample "$elapsed"
done
wait "$perf_pid" || true
sleep 2
sample end
grep -E "Queries sent|completed|lost|per second|Response codes" "$dir/dnsperf.txt"
ls -l "$dir/data/hush.db" | awk '{print "query log bytes:", $5}'
