#!/usr/bin/env bash
# Backup and restore of a big data directory: a query log of ROWS rows
# (written straight into the database by hush_report_bench: 50 devices over
# the last 30 days) and one subscribed list of NAMES names. While
# `hush backup --with-log --with-lists` runs against the serving hush, a
# probe asks it a blocked and a cached name every 10 ms; its answer times
# during the backup are printed beside those of the same probe just before.
# Then the backup's restore: --dry-run, and into an empty data directory.
# Wall time and peak RSS (GNU time) of each step, and the log's rows before
# and after the backup beside those restored (the probe's own queries are
# logged meanwhile, and the log is pruned as ever: the restored count must
# lie between). Not part of CI.
# Usage: tests/bench/backup.sh HUSH_BINARY REPORT_BENCH_BINARY [ROWS] [NAMES]
#   FILLED=DIR in the environment: copy the log hush_report_bench DIR ROWS
#   100000 now wrote earlier instead of writing it again.
#   BEFORE=BINARY: the same backup and restores with another hush (an older
#   build) first, on the same data, for a before/after in one run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
BIN=$(realpath "$1")
FILL=$(realpath "$2")
ROWS=${3:-10000000}
NAMES=${4:-1000000}
W=$(mktemp -d /tmp/hush-backupbench-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25481 DNS=25482
DATA="$W/data"
timed() {  # LABEL COMMAND...: wall seconds and peak RSS
  local label=$1
  shift
  /usr/bin/time -f "$label: %e s, peak RSS %M KiB" "$@" >"$W/out.txt" 2>"$W/time.txt" || { cat "$W/out.txt" "$W/time.txt"; exit 1; }
  tail -1 "$W/time.txt"
}
t0=$(date +%s)
if [ -n "${FILLED:-}" ]; then  # a log an earlier fill left (FILLED=DIR): copied, not written again
  cp -r "$FILLED" "$DATA"
else
  "$FILL" "$DATA" "$ROWS" 100000 now >"$W/fill.txt"
fi
echo "log: $(sqlite3 "$DATA/hush.db" 'SELECT sum(n) FROM query_blocks') rows ready in $(($(date +%s) - t0)) s, $(du -m "$DATA/hush.db" | cut -f1) MiB"
awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "n%d.big-list.example\n", i }' >"$W/big.txt"
"$BIN" lists add "file://$W/big.txt" --name big -d "$DATA" >/dev/null
bench_upstream_conf "$W/unbound.conf" $UP "$W"
unbound -d -c "$W/unbound.conf" >"$W/unbound.log" 2>&1 &
PIDS+=($!)
# The rows are dated over the last 30 days: keep them, and no size pass.
printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 2\n[upstream]\nservers = ["127.0.0.1:%s"]\n[http]\nlisten = ""\n[querylog]\nretention_days = 3650\nmax_size_mib = 0\n' \
  $DNS "$DATA" $UP >"$W/hush.toml"
"$BIN" serve -c "$W/hush.toml" --user "" >"$W/hush.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do dig @127.0.0.1 -p $DNS +time=1 +tries=1 n1.big-list.example 2>/dev/null | grep -q 0.0.0.0 && break; sleep 0.1; done

# The probe: one question every 10 ms, alternately blocked and cached;
# prints "start_unix_ms latency_ms" (latency -1: no answer within 1 s).
python3 - "$DNS" >"$W/probe.txt" <<'PY' &
import socket, struct, sys, time, random
port = int(sys.argv[1])
def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
names = ["n7.big-list.example", "x.bench"]
i = 0
while True:
    qid = random.randrange(65536)
    t = time.time()
    s.sendto(query(names[i % 2], qid), ("127.0.0.1", port))
    lat = -1.0
    try:
        while True:
            data = s.recv(4096)
            if struct.unpack(">H", data[:2])[0] == qid:
                lat = (time.time() - t) * 1000
                break
    except socket.timeout:
        pass
    print("%d %.3f" % (t * 1000, lat), flush=True)
    i += 1
    time.sleep(max(0.0, 0.01 - (time.time() - t)))
PY
PIDS+=($!)
rows() { sqlite3 "$1" 'SELECT coalesce(sum(n), 0) FROM query_blocks'; }
stats() {  # FROM_MS TO_MS LABEL
  python3 - "$1" "$2" "$3" "$W/probe.txt" <<'PY'
import sys
a, b, label, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [l.split() for l in open(path)]
lat = [float(r[1]) for r in rows if a <= int(r[0]) < b]
ok = sorted(x for x in lat if x >= 0)
pick = lambda q: ok[min(len(ok) - 1, int(len(ok) * q))] if ok else float("nan")
print("%s: %d questions, %d unanswered, median %.2f ms, p99 %.2f ms, max %.2f ms"
      % (label, len(lat), len(lat) - len(ok), pick(0.5), pick(0.99), ok[-1] if ok else float("nan")))
PY
}
sleep 10
round() {  # BINARY LABEL
  local bin=$1 tag=$2 out="$W/backup-$2"
  echo "== $tag: $bin"
  local before after
  before=$(rows "$DATA/hush.db")
  b0=$(date +%s%3N)
  timed "hush backup --with-log --with-lists" "$bin" backup "$out" -d "$DATA" --with-log --with-lists
  b1=$(date +%s%3N)
  after=$(rows "$DATA/hush.db")
  sleep 1
  echo "backup file: $(du -m "$out" | cut -f1) MiB"
  stats $((b0 - 9000)) "$b0" "answers in the 9 s before"
  stats "$b0" "$b1" "answers during the backup"
  rm -rf "$W/restored"
  timed "hush restore --dry-run" "$bin" restore "$out" -d "$W/restored" --dry-run
  timed "hush restore into an empty data directory" "$bin" restore "$out" -d "$W/restored"
  cmp "$DATA/lists/big.txt" "$W/restored/lists/big.txt" && echo "list copy: the same bytes"
  local restored
  restored=$(rows "$W/restored/hush.db")
  echo "log rows: $before before the backup, $after after it, $restored restored"
  # The backup is the log at one moment during it: between the two counts.
  local lo=$before hi=$after
  [ "$lo" -le "$hi" ] || { lo=$after; hi=$before; }
  [ "$restored" -ge "$lo" ] && [ "$restored" -le "$hi" ] || echo "ROWS LOST: $restored restored, $lo to $hi held"
  rm -f "$out"
}
[ -n "${BEFORE:-}" ] && round "$(realpath "$BEFORE")" before
round "$BIN" after
