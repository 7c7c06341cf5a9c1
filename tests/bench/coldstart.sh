#!/usr/bin/env bash
# First start with a list in text form: seconds from exec to the first
# blocked answer (benchlib.py launch polls every 10 ms for the list's last
# name), with a fresh data directory each time so no compiled file exists.
# Several hush binaries alternate, so a before/after pair shares the
# machine's load. Not part of CI; docs/BENCHMARKS.md has the figures.
#
# Usage: tests/bench/coldstart.sh [--pairs N] [--domains N] HUSH [HUSH ...]
#   --pairs N     starts per binary (default 5); the median is reported
#   --domains N   size of the synthetic hosts list (default 1000000), the
#                 same generator as run.sh (benchlib.py gen)
#
# Each server binds to 127.0.0.1 only, has no reachable upstream (the probe
# is answered from the list) and is stopped by its PID after its answer.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PAIRS=5 DOMAINS=1000000 BINS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS=$2; shift ;;
    --domains) DOMAINS=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) BINS+=("$1") ;;
  esac
  shift
done
[ ${#BINS[@]} -gt 0 ] || { echo "coldstart.sh: give at least one hush binary" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hush-coldstart.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

LIST=${TMPDIR:-/tmp}/hush-coldstart-list-$DOMAINS
if [ ! -s "$LIST/blocklist.hosts" ] || [ ! -s "$LIST/probe-name" ]; then
  python3 "$HERE/benchlib.py" gen --out "$LIST" --domains "$DOMAINS" --blocked-queries 1 --hit-names 1 \
    --miss-queries 1 --flood-queries 1 >&2
fi
PROBE=$(cat "$LIST/probe-name")
printf '[http]\nlisten = ""\n' >"$WORK/hush.toml"

PORT=$((20000 + RANDOM % 20000))

declare -A TIMES
for ((i = 1; i <= PAIRS; i++)); do
  for b in "${BINS[@]}"; do
    while ss -Hlun "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
    rm -rf "$WORK/data" "$WORK/log"
    mkdir -p "$WORK/data"
    sync
    res=$(python3 "$HERE/benchlib.py" launch --port "$PORT" --name "$PROBE" --timeout 60 \
      --pidfile "$WORK/pid" --log "$WORK/log" \
      "$b" serve --listen "127.0.0.1:$PORT" --upstream 127.0.0.1:9 --data-dir "$WORK/data" --threads 1 \
      --config "$WORK/hush.toml" --blocklist "$LIST/blocklist.hosts") || true
    PID=$(cat "$WORK/pid" 2>/dev/null || true)
    if [ -n "$PID" ]; then
      kill "$PID" 2>/dev/null || true
      while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
      PID=
    fi
    PORT=$((PORT + 1))
    t=$(printf '%s' "$res" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read() or "{}"); print(r["first_blocked_s"] if r.get("ok") else "fail")')
    if [ "$t" = fail ]; then
      echo "$b: no blocked answer: $res; log: $(tail -3 "$WORK/log")" >&2
    else
      echo "$b: $t s" >&2
    fi
    TIMES[$b]="${TIMES[$b]:-} $t"
  done
done
for b in "${BINS[@]}"; do
  # shellcheck disable=SC2086
  python3 - "$b" ${TIMES[$b]} <<'EOF'
import statistics, sys
ok = sorted(float(t) for t in sys.argv[2:] if t != "fail")
fails = sum(t == "fail" for t in sys.argv[2:])
if ok:
    print("%s: median %.2f s (%.2f-%.2f), %d starts%s" % (sys.argv[1], statistics.median(ok), ok[0], ok[-1], len(ok),
          ", %d failed" % fails if fails else ""))
else:
    print("%s: every start failed" % sys.argv[1])
EOF
done
