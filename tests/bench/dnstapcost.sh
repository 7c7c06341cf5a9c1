#!/usr/bin/env bash
# What dnstap export costs per answer: hush `--threads 1` with [dnstap] off,
# on, and on with dnstap.forwarder (fstrm_capture reading the stream into
# /dev/null), and on with a collector that stops reading (stalled), on a blocked mix (1,000 listed names) and a cached mix (1,000
# names under bench., answered by the shared loopback unbound once, then
# from the cache; exportload.sh), each run a bounded dnsperf load; prints
# QPS, hush's CPU µs per answer, and the answers sent and dropped
# (/metrics). Not part of CI.
# Usage: tests/bench/dnstapcost.sh BINARY [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/exportload.sh"
BIN=$(realpath "$1")
SECONDS_PER_RUN=${2:-10}
W=$(mktemp -d /tmp/hush-dnstapcost-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
UP=25453 DNS=25454 HTTP=25455
export_load_setup
for tap in off on forwarder stalled; do
  cfg="$W/hush-$tap.toml"
  export_load_config "$cfg" "$W/data-$tap"
  CAP=""
  if [ $tap != off ]; then
    rm -f "$W/tap.sock"
    fstrm_capture -t protobuf:dnstap.Dnstap -u "$W/tap.sock" -w /dev/null >"$W/capture.log" 2>&1 &
    CAP=$!
    PIDS+=($CAP)
    for _ in $(seq 50); do [ -S "$W/tap.sock" ] && break; sleep 0.1; done
    printf '[dnstap]\nsocket = "%s"\n' "$W/tap.sock" >>"$cfg"
    [ $tap = forwarder ] && printf 'forwarder = true\n' >>"$cfg"
  fi
  # stalled: the collector stops reading once hush is connected (SIGSTOP),
  # as one that cannot keep up; what hush drops then is counted.
  AFTER_START="" BEFORE_STOP=""
  [ $tap = stalled ] && AFTER_START="kill -STOP $CAP" BEFORE_STOP="kill -CONT $CAP"
  export_load_run "dnstap=$tap" "$BIN" "$cfg" hush_dnstap_sent_total hush_dnstap_dropped_total
  if [ -n "$CAP" ]; then kill -INT "$CAP"; wait "$CAP" 2>/dev/null || true; fi
done
