#!/usr/bin/env bash
# Dashboard page loads on a large query log (issue #21: every page under
# 300 ms with 50 devices and 2M logged queries). Fills DIR/hush.db through
# hush's own log writer (hush_report_bench: 50 devices, 100,000 names, a
# Zipf-like spread, 15% blocked, 30 days ending now), then for each hush
# binary given runs dashload.mjs: every page in headless Chromium at each
# period, the time to content and each API call's time. Binaries given
# together (before/after) are measured on the same log in turn. Not part of CI.
#
# Usage: tests/bench/dashload.sh [options] HUSH_BINARY...
#   --rows N       queries in the log (default 2000000)
#   --runs N       loads per page and period after the first (default 5)
#   --periods L    comma-separated (default 24h,7d,30d)
#   --dir DIR      where the log is made (default /tmp/hush-dashload); a log
#                  this script made there less than 6 hours ago with the same
#                  rows is used again (the 30 days end when it was made)
#   --filler PATH  hush_report_bench (default build/tests/bench/hush_report_bench;
#                  cmake --build build --target hush_report_bench)
#   --fresh        make the log again even when one is there
# DASHLOAD_PAGES=overview,phone\ home (names as printed) measures only those.
# Output: stdout, and per binary DIR/results-<n>.json.
# Safety: loopback only; each hush started here is stopped by dashload.mjs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROWS=2000000 RUNS=5 PERIODS=24h,7d,30d DIR=/tmp/hush-dashload FILLER=build/tests/bench/hush_report_bench FRESH=0 BINS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --periods) PERIODS=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --filler) FILLER=$2; shift ;;
    --fresh) FRESH=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) BINS+=("$1") ;;
  esac
  shift
done
[ ${#BINS[@]} -gt 0 ] || { echo "usage: $0 [options] HUSH_BINARY..." >&2; exit 2; }
STAMP=$DIR/.dashload-rows
if [ "$FRESH" = 1 ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$ROWS" ] || [ -n "$(find "$STAMP" -mmin +360)" ]; then
  [ -x "$FILLER" ] || { echo "no $FILLER: cmake --build build --target hush_report_bench" >&2; exit 2; }
  echo "filling $DIR/hush.db with $ROWS queries (hush_report_bench)..."
  start=$(date +%s)
  # Its report timings after the write are not this benchmark's: only the
  # write's line is shown.
  "$FILLER" "$DIR" "$ROWS" 100000 now | grep '^log:'
  echo "$ROWS" > "$STAMP"
  echo "filled in $(( $(date +%s) - start )) s; $(du -sh "$DIR/hush.db" | cut -f1)"
fi
n=0
for bin in "${BINS[@]}"; do
  n=$((n + 1))
  echo "== $bin (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  DASHLOAD_JSON=$DIR/results-$n.json node "$HERE/dashload.mjs" "$bin" "$DIR" "$RUNS" "$PERIODS"
done
