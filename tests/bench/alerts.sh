#!/usr/bin/env bash
# Alert delivery latency: from a device's first question to a company (dig
# starts) to the webhook receiving the first-contact alert, on loopback with
# a real unbound and a receiver that notes when each POST arrived. Each
# round asks from a new device address, so each is a first contact:
# - quiet: the log had nothing to write for two seconds before;
# - busy: another device asks a new name every 100 ms throughout, so the
#   query log's writer is inside its one-second commit interval when the
#   question comes.
# A sink gets 5 messages at once and then one a minute (the rate limit
# turns more into a digest), so a run has at most 5 rounds.
# Not part of CI.
# Usage: tests/bench/alerts.sh BINARY quiet|busy [ROUNDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
BIN=$(realpath "$1")
MODE=$2
ROUNDS=${3:-5}
[ "$ROUNDS" -le 5 ] || { echo "at most 5 rounds (the sink's burst)" >&2; exit 2; }
W=$(mktemp -d /tmp/hush-alerts-bench-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25473 DNS=25474 HOOK=25475
bench_upstream_conf "$W/unbound.conf" $UP "$W"
sed -i 's/^remote-control:/  local-zone: "miui.com." redirect\n  local-data: "miui.com. 300 IN A 192.0.2.10"\nremote-control:/' "$W/unbound.conf"
unbound -d -c "$W/unbound.conf" >"$W/unbound.log" 2>&1 &
PIDS+=($!)
# The receiver: one line per POST, the arrival in unix ms.
python3 - "$HOOK" "$W/arrivals" <<'EOF' &
import http.server, sys, time
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out.write("%d\n" % int(time.time() * 1000))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
PIDS+=($!)
printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\n[upstream]\nservers = ["127.0.0.1:%s"]\n[http]\nlisten = ""\n[[alerts.sink]]\nkind = "webhook"\nurl = "http://127.0.0.1:%s/hook"\nevents = ["first_contact"]\n' \
  $DNS "$W/data" $UP $HOOK >"$W/hush.toml"
"$BIN" serve -c "$W/hush.toml" --user "" >"$W/hush.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ "$(dig @127.0.0.1 -p $DNS +short +time=1 +tries=1 a.bench)" = 192.0.2.1 ] && break; sleep 0.1; done
touch "$W/arrivals"

round() {  # MODE N: one first contact from 127.0.0.N, its latency
  local before t0 t1
  before=$(wc -l <"$W/arrivals")
  t0=$(date +%s%3N)
  dig @127.0.0.1 -p $DNS -b "127.0.0.$2" +short +time=2 +tries=1 events.miui.com >/dev/null
  for _ in $(seq 1000); do [ "$(wc -l <"$W/arrivals")" -gt "$before" ] && break; sleep 0.005; done
  t1=$(sed -n "$((before + 1))p" "$W/arrivals")
  [ -n "$t1" ] || { echo "mode=$1 round=$2: no webhook (log: $W/hush.log)" >&2; exit 1; }
  echo "mode=$1 device=127.0.0.$2 query_to_webhook_ms=$((t1 - t0))"
}
n=10
if [ "$MODE" = busy ]; then
  (while :; do dig @127.0.0.1 -p $DNS -b 127.0.0.2 +short +time=1 +tries=1 "x$RANDOM.bench" >/dev/null; sleep 0.1; done) &
  PIDS+=($!)
fi
for _ in $(seq "$ROUNDS"); do
  if [ "$MODE" = busy ]; then sleep 0.7; else sleep 2; fi
  round "$MODE" $((n++))
done
