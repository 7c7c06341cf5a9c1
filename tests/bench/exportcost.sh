#!/usr/bin/env bash
# What the JSON-lines export costs per answer: hush `--threads 1` with
# [export] off, to a file, and to a UDP syslog receiver (a python socket
# reading into nothing), on a blocked and a cached mix (exportload.sh);
# prints QPS, hush's CPU µs per answer, and lines sent and dropped
# (/metrics). Not part of CI.
# Usage: tests/bench/exportcost.sh BINARY [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/exportload.sh"
BIN=$(realpath "$1")
SECONDS_PER_RUN=${2:-10}
W=$(mktemp -d /tmp/hush-exportcost-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25471 DNS=25472 HTTP=25473 SYSLOG=25474
export_load_setup
python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(('127.0.0.1', $SYSLOG))
while True: s.recv(65536)
" &
PIDS+=($!)
for mode in off file syslog; do
  cfg="$W/hush-$mode.toml"
  export_load_config "$cfg" "$W/data-$mode"
  [ $mode = file ] && printf '[export]\nfile = "%s"\nmax_file_mib = 64\n' "$W/queries.jsonl" >>"$cfg"
  [ $mode = syslog ] && printf '[export]\nsyslog = "udp://127.0.0.1:%s"\n' $SYSLOG >>"$cfg"
  export_load_run "export=$mode" "$BIN" "$cfg" hush_export_sent_total hush_export_dropped_total
  rm -f "$W"/queries.jsonl*
done
