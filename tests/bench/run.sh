#!/usr/bin/env bash
# hush benchmark harness: hush against dnsmasq, unbound and dnsdist (and a
# do-nothing floor responder) on loopback, with the same 1M-domain blocklist
# and the same upstream.  Not part of CI.  See docs/BENCHMARKS.md.
#
# Usage: tests/bench/run.sh [options]
#   --quick            short run: 3 s per load, 100k domains, no scaling runs,
#                      results to tests/bench/out/ only
#   --duration N       seconds per dnsperf run (default 10; quick 3)
#   --domains N        blocklist size (default 1000000; quick 100000)
#   --only "A B ..."   servers to run, from: floor hush hush-nolog dnsmasq
#                      dnsmasq-addr unbound dnsdist (hush-nolog: query log
#                      off; dnsmasq: addn-hosts; dnsmasq-addr:
#                      address=/name/0.0.0.0 lines)
#   --mixes "A B ..."  loads to run, from: blocked distinct hit miss flood
#                      (default all; see docs/BENCHMARKS.md)
#   --flood-seconds N  length of the random-subdomain flood (default 60;
#                      quick 10)
#   --flood-names N    unique names in the flood file (default 5000000;
#                      quick 1000000); dnsperf stops at N or at the time
#   --flood-after N    seconds of RSS samples after the flood (default 20;
#                      quick 5)
#   --log-cap N        querylog.max_size_mib = N for hush with the log on
#                      (default: hush's own, 1024); the flood row gives
#                      the file + WAL at most and at the end
#   --hush PATH        use this hush binary instead of building build-bench/
#   --no-install       do not apt-get install missing tools
#   --no-scale         skip the two-thread scaling runs
#   --scale            do the scaling runs even with --quick
#   --no-docs          do not rewrite docs/BENCHMARKS.md (default with --quick)
#   --docs             rewrite docs/BENCHMARKS.md even with --quick
#   --clients N / --outstanding N   dnsperf -c / -q (default 4 / 100)
#   --reps N           repeat each load N times, report the best (default 2;
#                      quick 1): the machine is shared, noise only lowers QPS
#   --wait-quiet S     before each load, wait (at most 30 s each, S s in all;
#                      default 60, quick 0) for other processes to use < 10%
#                      of the machine
#   --no-nice          do not run servers, upstream and dnsperf at nice -20
#                      (the default, so that other people's builds yield)
#   --perf             profile hush's single-thread runs with perf record
#                      (installs linux-perf; perf's own cost skews hush's rows)
#   --perf-servers "A B"  profile these servers instead of hush
#
# Memory: each server's VmRSS is sampled every second during every load;
# rows give the highest and the last sample, and the flood also the samples
# after it.
#
# Safety: every server binds to 127.0.0.1 only and every load is bounded by
# dnsperf -l (seconds) and, for unique names (miss, flood), -n 1 over a file
# of known length; the start-up poller gives up after 120 s.  Servers started here are stopped on exit by their PID.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/upstream.sh"
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${BENCH_OUT:-$HERE/out}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
LIB="$PY $HERE/benchlib.py"

AG_SAVED=
QUICK=0 DURATION= DOMAINS= ONLY="floor hush hush-nolog dnsmasq dnsmasq-addr unbound dnsdist" HUSH=
MIXES="blocked distinct hit miss flood"
FLOOD_SECONDS= FLOOD_NAMES= FLOOD_AFTER= LOG_CAP=
INSTALL=1 SCALE= DOCS= CLIENTS=4 OUTSTANDING=100 SEED=20241121 PERF=0 PERF_SERVERS=hush REPS= QUIET= NICE=1
ARGV="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --duration) DURATION=$2; shift ;;
    --domains) DOMAINS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --mixes) MIXES=$2; shift ;;
    --flood-seconds) FLOOD_SECONDS=$2; shift ;;
    --flood-names) FLOOD_NAMES=$2; shift ;;
    --flood-after) FLOOD_AFTER=$2; shift ;;
    --log-cap) LOG_CAP=$2; shift ;;
    --hush) HUSH=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-scale) SCALE=0 ;;
    --scale) SCALE=1 ;;
    --no-docs) DOCS=0 ;;
    --docs) DOCS=1 ;;
    --perf) PERF=1 ;;
    --perf-servers) PERF=1; PERF_SERVERS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --wait-quiet) QUIET=$2; shift ;;
    --no-nice) NICE=0 ;;
    --clients) CLIENTS=$2; shift ;;
    --outstanding) OUTSTANDING=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  : "${DURATION:=3}" "${DOMAINS:=100000}" "${SCALE:=0}" "${DOCS:=0}" "${REPS:=1}" "${QUIET:=0}"
  : "${FLOOD_SECONDS:=10}" "${FLOOD_NAMES:=1000000}" "${FLOOD_AFTER:=5}"
else
  : "${DURATION:=10}" "${DOMAINS:=1000000}" "${SCALE:=1}" "${DOCS:=1}" "${REPS:=2}" "${QUIET:=60}"
  : "${FLOOD_SECONDS:=60}" "${FLOOD_NAMES:=5000000}" "${FLOOD_AFTER:=20}"
fi
for mix in $MIXES; do
  case "$mix" in blocked|distinct|hit|miss|flood) ;; *) echo "run.sh: unknown mix $mix" >&2; exit 2 ;; esac
done
has_mix() { [[ " $MIXES " == *" $1 "* ]]; }
# Unique names for the miss mix: enough for DURATION s at 200k qps.
MISSQ=$((DURATION * 200000))
T_START=$(date +%s)

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$OUT"
RUN="$OUT/run"
rm -rf "$RUN"
mkdir -p "$RUN"
RESULTS="$RUN/results.jsonl"
NOTES="$RUN/notes.txt"
: >"$RESULTS"
: >"$NOTES"
note() { log "note: $*"; printf '%s\n' "$*" >>"$NOTES"; }

# ---------------------------------------------------------------- processes
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    if [ -n "$p" ]; then stop_pid "$p"; fi
  done
}
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    # a child of ours that exited but was not reaped still answers kill -0
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  log "pid $pid ignored SIGTERM for 10 s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}
restore_autogroup() {
  if [ -n "$AG_SAVED" ]; then echo "$AG_SAVED" >/proc/$$/autogroup 2>/dev/null || true; fi
}
trap 'cleanup; restore_autogroup' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- install
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have dnsperf || need_pkgs+=(dnsperf)
have unbound || [ -x /usr/sbin/unbound ] || need_pkgs+=(unbound)
# peers' packages only when they are run
if [[ " $ONLY " == *" dnsmasq"* ]]; then have dnsmasq || [ -x /usr/sbin/dnsmasq ] || need_pkgs+=(dnsmasq-base); fi
if [[ " $ONLY " == *" dnsdist "* ]]; then have dnsdist || need_pkgs+=(dnsdist); fi
have taskset || need_pkgs+=(util-linux)
have ss || need_pkgs+=(iproute2)
have sqlite3 || need_pkgs+=(sqlite3)
have cc || need_pkgs+=(gcc libc6-dev)
[ -x /usr/bin/python3 ] || have python3 || need_pkgs+=(python3)
if [ "$PERF" = 1 ]; then
  have perf || need_pkgs+=(linux-perf)
  note "single-thread rows of $PERF_SERVERS ran under perf record (-F 499): their CPU and QPS figures include perf's cost"
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$INSTALL" = 1 ] || die "missing: ${need_pkgs[*]} (run without --no-install)"
  log "apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$RUN/apt.log" 2>&1
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >>"$RUN/apt.log" 2>&1 ||
    die "apt-get install failed, see $RUN/apt.log"
fi
export PATH="$PATH:/usr/sbin:/sbin"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores (server on core 0, load on core 1)"

# Everything we measure runs at nice -20, so that the compilers of people
# sharing the machine yield to it (they still get what we leave idle).  With
# autogroups on (/proc/sys/kernel/sched_autogroup_enabled), CPU is first
# shared between sessions, so the nice of our sessions' autogroups is what
# counts: this script's (dnsperf, upstream) and each server's (set by
# benchlib.py launch).  Ours is put back on exit.
PRIO=()
LAUNCH_PRIO=()
AG_SAVED=
if [ "$NICE" = 1 ]; then
  PRIO=(nice -n -20)
  LAUNCH_PRIO=(--autogroup-nice -20)
  if [ -w /proc/self/autogroup ]; then
    AG_SAVED=$(awk '{print $NF}' /proc/$$/autogroup 2>/dev/null || true)
    echo -20 >/proc/$$/autogroup 2>/dev/null || AG_SAVED=
  fi
fi

# ---------------------------------------------------------------- ports
# Distinct free ports, checked for UDP and TCP listeners: a server that shares
# a port through SO_REUSEPORT with someone else's would split the load.
NEXT_PORT=${BENCH_PORT_BASE:-41530}
port_free() {
  [ -z "$(ss -Hlnu "sport = :$1" 2>/dev/null)" ] && [ -z "$(ss -Hlnt "sport = :$1" 2>/dev/null)" ]
}
alloc_port() {
  local i
  for i in $(seq 1 200); do
    local p=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# ---------------------------------------------------------------- build
log "building the floor responder"
cc -O2 -Wall -pthread -o "$OUT/floor" "$HERE/floor.c"

HUSH_NA=
HUSH_BLOCKLIST=1
HUSH_DESC="binary $HUSH"
is_hush() { [ "$1" = hush ] || [ "$1" = hush-nolog ]; }
WANT_HUSH=0
for n in $ONLY; do if is_hush "$n"; then WANT_HUSH=1; fi; done
if [ "$WANT_HUSH" = 1 ]; then
  if [ -z "$HUSH" ]; then
    if [ -f "$ROOT/resolver/CMakeLists.txt" ]; then
      log "building hush (Release) in build-bench/"
      if (cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DHUSH_BUILD_TESTS=OFF &&
          cmake --build "$ROOT/build-bench" -j2 --target hush) >"$RUN/hush-build.log" 2>&1; then
        HUSH=$(find "$ROOT/build-bench" -maxdepth 3 -type f -name hush -perm -u+x | head -1)
        HUSH_DESC="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') + working tree, Release"
      else
        # The working tree is shared with people mid-edit: fall back to the
        # last commit, exported (not checked out) to tests/bench/out/hush-src.
        log "working-tree build failed; building the committed HEAD instead"
        rm -rf "$OUT/hush-src"
        mkdir -p "$OUT/hush-src"
        if git -C "$ROOT" archive HEAD | tar -x -C "$OUT/hush-src" &&
           (cmake -S "$OUT/hush-src" -B "$OUT/hush-src/build" -DCMAKE_BUILD_TYPE=Release -DHUSH_BUILD_TESTS=OFF &&
            cmake --build "$OUT/hush-src/build" -j2 --target hush) >>"$RUN/hush-build.log" 2>&1; then
          HUSH=$(find "$OUT/hush-src/build" -maxdepth 3 -type f -name hush -perm -u+x | head -1)
          HUSH_DESC="commit $(git -C "$ROOT" rev-parse --short HEAD), Release"
          note "hush built from commit $(git -C "$ROOT" rev-parse --short HEAD): the working tree did not build"
        else
          HUSH_NA="build failed (see tests/bench/out/run/hush-build.log)"
          tail -20 "$RUN/hush-build.log" >&2 || true
        fi
      fi
    else
      HUSH_NA="resolver/ has no CMakeLists.txt yet"
    fi
  fi
  if [ -z "$HUSH_NA" ] && { [ -z "$HUSH" ] || [ ! -x "$HUSH" ]; }; then
    HUSH_NA="no hush binary"
  fi
  if [ -z "$HUSH_NA" ]; then
    if ! "$HUSH" serve --help >"$RUN/hush-help.txt" 2>&1; then
      HUSH_NA="'hush serve --help' failed"
    elif ! grep -q -- '--blocklist' "$RUN/hush-help.txt"; then
      HUSH_BLOCKLIST=0
      note "hush has no --blocklist option yet: run without a list, blocked-mix rows n/a"
    fi
  fi
  [ -n "$HUSH_NA" ] && note "hush not run: $HUSH_NA"
fi

# ---------------------------------------------------------------- data
DATA="$OUT/data-$DOMAINS"
STAMP="domains=$DOMAINS seed=$SEED miss=$MISSQ x $REPS flood=$FLOOD_NAMES v=4"
if [ "$(cat "$DATA/stamp" 2>/dev/null)" != "$STAMP" ]; then
  log "generating $DOMAINS domains and query files in $DATA"
  rm -rf "$DATA"
  $LIB gen --out "$DATA" --domains "$DOMAINS" --seed "$SEED" --miss-queries "$MISSQ" --miss-files "$REPS" \
    --flood-queries "$FLOOD_NAMES" >&2
  echo "$STAMP" >"$DATA/stamp"
fi
PROBE=$(cat "$DATA/probe-name")

# ---------------------------------------------------------------- upstream
UP_PORT=$(alloc_port)
bench_upstream_conf "$RUN/upstream.conf" "$UP_PORT" "$RUN"
log "starting the shared upstream (unbound) on 127.0.0.1:$UP_PORT, core 1"
"${PRIO[@]}" taskset -c 1 unbound -d -c "$RUN/upstream.conf" >"$RUN/upstream.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
ok=0
for i in $(seq 1 100); do
  if $PY - "$UP_PORT" <<'EOF' 2>/dev/null; then ok=1; break; fi
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.1)
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x05probe\x05bench\x00" + struct.pack(">HH", 1, 1)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
r = s.recv(512)
sys.exit(0 if (r[3] & 15) == 0 and r[-4:] == bytes([192, 0, 2, 1]) else 1)
EOF
  sleep 0.1
done
[ "$ok" = 1 ] || die "upstream unbound does not answer (see $RUN/upstream.log)"

# ---------------------------------------------------------------- helpers
cpu_ticks() { # utime+stime of a whole process (all threads); 0 if gone
  { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null || true; } | awk '{t = $12 + $13} END {print t + 0}'
}
alive() {
  [ -e "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $1}')" != Z ]
}
# busy ticks of the whole machine (everything but idle and iowait)
machine_ticks() {
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
all_ticks() {
  awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t; exit}' /proc/stat
}
# CPU ticks of this shell's reaped children (the dnsperf processes), into
# CHILD_TICKS.  `times` must run in this shell, not in a $(...) subshell.
child_ticks() {
  times >"$RUN/.times"
  CHILD_TICKS=$(awk -v hz="$(getconf CLK_TCK)" 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
    printf "%d", t * hz }' "$RUN/.times")
}
rss_mib() {
  awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"
}
# sample_rss PID FILE: appends VmRSS (KiB) once a second until killed or
# until PID is gone.
sample_rss() {
  while awk '/^VmRSS:/ {print $2; f = 1} END {exit !f}' "/proc/$1/status" >>"$2" 2>/dev/null; do
    sleep 1
  done
}

# sample_db DIR FILE: appends the bytes of hush.db and its WAL once a second
# until killed.
sample_db() {
  while sleep 1; do
    du -cb "$1"/hush.db* 2>/dev/null | awk 'END {print $1 + 0}' >>"$2"
  done
}

# Wait until the rest of the machine is quiet: our idle server and upstream
# use nothing, so busy ticks are other people's.  Bounded by QUIET seconds
# over the whole run and 30 s per call.
QUIET_LEFT=$QUIET
wait_quiet() {
  local waited=0 m0 a0 m1 a1 busy
  while [ "$QUIET_LEFT" -gt 0 ] && [ "$waited" -lt 30 ]; do
    m0=$(machine_ticks) a0=$(all_ticks)
    sleep 1
    m1=$(machine_ticks) a1=$(all_ticks)
    busy=$(( (m1 - m0) * 100 / ((a1 - a0) > 0 ? (a1 - a0) : 1) ))
    [ "$busy" -lt 10 ] && break
    waited=$((waited + 1))
    QUIET_LEFT=$((QUIET_LEFT - 1))
  done
  if [ "$waited" -gt 0 ]; then log "waited ${waited} s for others' load to drop (busy ${busy}%)"; fi
  QUIET_WAITED=$((${QUIET_WAITED:-0} + waited))
}

# dnsperf_run TAG PORT FILE EXTRA... -> $RUN/TAG.txt (summary), $RUN/TAG.v (verbose);
# runs LOAD_SECONDS (default DURATION) seconds.
dnsperf_run() {
  local tag=$1 port=$2 file=$3 cpus=$4
  shift 4
  "${PRIO[@]}" taskset -c "$cpus" dnsperf -s 127.0.0.1 -p "$port" -d "$file" -l "${LOAD_SECONDS:-$DURATION}" \
    -c "$CLIENTS" -q "$OUTSTANDING" -t 2 -v -O suppress=timeouts,unexpected,congestion \
    "$@" >"$RUN/$tag.v" 2>&1 || true
}
finish_verbose() { # keep the summary, drop the per-query lines
  grep -v '^> ' "$1.v" >"$1.txt" || true
  rm -f "$1.v"
}

# start_server NAME PORT ANY ROWMODE CMD... ; sets SRV_PID, appends a start-up row
start_server() {
  local name=$1 port=$2 any=$3 rowmode=$4
  shift 4
  local flag=()
  [ "$any" = 1 ] && flag=(--any)
  log "starting $name on 127.0.0.1:$port"
  local res
  res=$($LIB launch --port "$port" --name "$PROBE" "${flag[@]}" "${LAUNCH_PRIO[@]}" --timeout 120 \
    --pidfile "$RUN/$name.pid" --log "$RUN/$name.log" -- "$@") || true
  SRV_PID=$(cat "$RUN/$name.pid")
  PIDS+=("$SRV_PID")
  if ! echo "$res" | grep -q '"ok": true'; then
    note "$name did not come up: $res (log: tests/bench/out/run/$name.log)"
    tail -5 "$RUN/$name.log" >&2 || true
    echo "{\"mode\": \"$rowmode\", \"server\": \"$name\", \"error\": \"did not start\"}" >>"$RESULTS"
    stop_pid "$SRV_PID"
    return 1
  fi
  sleep 1
  local rss hwm
  rss=$(rss_mib "$SRV_PID")
  hwm=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$SRV_PID/status")
  log "$name up: $res rss=${rss}MiB"
  echo "$res" | $PY -c "
import json,sys
r=json.load(sys.stdin); r.update(mode='$rowmode', server='$name', rss_mib=$rss, hwm_mib=$hwm)
print(json.dumps(r, sort_keys=True))" >>"$RESULTS"
}

# check_rcodes NAME MIX RESULTJSON
check_rcodes() {
  echo "$3" | $PY -c "
import json,sys
r=json.load(sys.stdin); rc=r.get('rcodes',{}); tot=sum(rc.values())
ok={'blocked':('NXDOMAIN','NOERROR'),'distinct':('NXDOMAIN','NOERROR'),'hit':('NOERROR',),
    'miss':('NOERROR',),'flood':('NOERROR',)}['$2']
good=sum(v for k,v in rc.items() if k in ok)
if tot==0: print('no answers')
elif good < 0.99*tot: print('unexpected answers %s' % rc)
"
}

# measure NAME MIX MODE CPUS_FOR_DNSPERF NPROC EXTRA_SET...
measure() {
  local name=$1 mix=$2 mode=$3 cpus=$4 nload=$5 port=$6 rep=$7
  shift 7
  local file="$DATA/q-$mix.txt" extra=() LOAD_SECONDS=$DURATION
  if [ "$mix" = miss ]; then file="$DATA/q-miss-$rep.txt"; extra=(-n 1); fi
  if [ "$mix" = flood ]; then extra=(-n 1); LOAD_SECONDS=$FLOOD_SECONDS; fi
  if [ "$mix" = hit ]; then # fill the cache first
    taskset -c "$cpus" dnsperf -s 127.0.0.1 -p "$port" -d "$file" -n 2 -l 5 -c 1 -q 8 -t 2 \
      >/dev/null 2>&1 || true
  fi
  local t0 t1 tag=$name-$mode-$mix-r$rep i files=() perfpid=
  local m0 a0 c0 u0 m1 a1 c1 u1 rsspid rssfile="$RUN/$tag.rss" after=()
  wait_quiet
  # After the wait, so the profile covers the load and not the idle server.
  if [ "$PERF" = 1 ] && [[ " $PERF_SERVERS " == *" $name "* ]] && [ "$mode" = single ]; then
    taskset -c 1 perf record -q -F 499 -g -p "$SRV_PID" -o "$RUN/perf-$tag.data" -- sleep "$LOAD_SECONDS" \
      >"$RUN/perf-$tag.log" 2>&1 &
    perfpid=$!
  fi
  : >"$rssfile"
  sample_rss "$SRV_PID" "$rssfile" &
  rsspid=$!
  local dbpid=
  if [ "$mix" = flood ] && [ "$name" = hush ]; then
    : >"$RUN/$tag.db"
    sample_db "$RUN/hush-data" "$RUN/$tag.db" &
    dbpid=$!
  fi
  child_ticks
  m0=$(machine_ticks) a0=$(all_ticks) c0=$CHILD_TICKS u0=$(cpu_ticks "$UP_PID")
  t0=$(cpu_ticks "$SRV_PID")
  if [ "$nload" = 1 ]; then
    dnsperf_run "$tag" "$port" "$file" "$cpus" "${extra[@]}"
    files=("$RUN/$tag.v")
  else
    local lp=()
    for i in $(seq 1 "$nload"); do
      dnsperf_run "$tag-$i" "$port" "$file" "$cpus" "${extra[@]}" &
      lp+=($!)
      files+=("$RUN/$tag-$i.v")
    done
    wait "${lp[@]}"
  fi
  t1=$(cpu_ticks "$SRV_PID")
  kill "$rsspid" $dbpid 2>/dev/null || true
  wait "$rsspid" $dbpid 2>/dev/null || true
  # the last sample: memory at the end of the load; and the kernel's high-water
  # mark, which also catches what rose and fell between two samples
  awk '/^VmRSS:/ {print $2}' "/proc/$SRV_PID/status" >>"$rssfile" 2>/dev/null || true
  local hwm
  hwm=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$SRV_PID/status" 2>/dev/null || true)
  if ! alive "$SRV_PID"; then
    note "$name died during the $mix run ($mode, rep $rep); see tests/bench/out/run/$name*.log"
    na_row "$name" "$mix" "$mode" "server died" "${threads:-1}"
    return 1
  fi
  child_ticks
  m1=$(machine_ticks) a1=$(all_ticks) c1=$CHILD_TICKS u1=$(cpu_ticks "$UP_PID")
  # CPU used by anyone else (other engineers' builds...) while we measured,
  # as a share of the whole machine.
  local others
  others=$(awk -v m=$((m1 - m0)) -v a=$((a1 - a0)) -v ours=$((t1 - t0 + c1 - c0 + u1 - u0)) \
    'BEGIN { o = (m - ours) / (a > 0 ? a : 1) * 100; if (o < 0) o = 0; printf "%.1f", o }')
  if [ -n "$perfpid" ]; then
    wait "$perfpid" || true
    perf report --stdio --no-children --percent-limit 0.5 -i "$RUN/perf-$tag.data" \
      >"$RUN/perf-$tag.txt" 2>/dev/null || true
    log "perf profile: tests/bench/out/run/perf-$tag.txt"
  fi
  if [ "$mix" = flood ]; then
    # Memory once the flood is over: does it come back down?
    for i in $(seq 1 "$FLOOD_AFTER"); do
      sleep 1
      awk '/^VmRSS:/ {print $2}' "/proc/$SRV_PID/status" >>"$RUN/$tag.after" 2>/dev/null || true
    done
    after=(--set rss_after_mib="$(awk 'END {printf "%.1f", $1 / 1024}' "$RUN/$tag.after" 2>/dev/null)"
           --set rss_after_max_mib="$(awk '$1 > m {m = $1} END {printf "%.1f", m / 1024}' "$RUN/$tag.after" 2>/dev/null)"
           --set after_s="$FLOOD_AFTER" --set flood_names="$FLOOD_NAMES" --set flood_s="$FLOOD_SECONDS")
    if [ "$name" = hush ] && [ -f "$RUN/hush-data/hush.db" ]; then
      after+=(--set db_mib="$(du -cb "$RUN/hush-data"/hush.db* | awk 'END {printf "%.1f", $1 / 1048576}')"
              --set db_max_mib="$(awk '$1 > m {m = $1} END {printf "%.1f", m / 1048576}' "$RUN/$tag.db")"
              --set log_cap_mib="${LOG_CAP:-null}")
    fi
  fi
  local res
  res=$($LIB parse --cpu-ticks $((t1 - t0)) --rss "$rssfile" --set mode="\"$mode\"" --set server="\"$name\"" \
    --set mix="\"$mix\"" --set rep="$rep" --set others_pct="$others" --set hwm_mib="${hwm:-null}" \
    "${after[@]}" "$@" "${files[@]}")
  for i in "${files[@]}"; do finish_verbose "${i%.v}"; done
  echo "$res" >>"$RESULTS"
  local bad
  bad=$(check_rcodes "$name" "$mix" "$res")
  [ -n "$bad" ] && note "$name ($mode, $mix): $bad"
  log "$name $mode $mix: $(echo "$res" | $PY -c 'import json,sys; r=json.load(sys.stdin); print("rep %s qps=%s mean=%sms p99=%sms lost=%s cpu/q=%sus others=%s%% rss max/end=%s/%sMiB" % (r.get("rep"), r.get("qps"), r.get("lat_mean_ms"), r.get("lat_p99_ms"), r.get("lost"), r.get("cpu_us_per_q"), r.get("others_pct"), r.get("rss_max_mib"), r.get("rss_final_mib")))')"
}

na_row() { # na_row NAME MIX MODE REASON [threads]
  echo "{\"mode\": \"$3\", \"server\": \"$1\", \"mix\": \"$2\", \"na\": \"$4\", \"threads\": ${5:-1}}" >>"$RESULTS"
}

# ---------------------------------------------------------------- peers' configs
write_unbound_peer() { # PORT THREADS
  cat >"$RUN/unbound-peer.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $1
  do-ip6: no
  so-reuseport: $([ "$2" -gt 1 ] && echo yes || echo no)
  num-threads: $2
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  directory: "$RUN"
  use-syslog: no
  logfile: ""
  verbosity: 0
  module-config: "iterator"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  ratelimit: 0
  ip-ratelimit: 0
  include: "$DATA/blocklist.unbound.conf"
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$UP_PORT
remote-control:
  control-enable: no
EOF
}
write_dnsdist() { # PORT
  cat >"$RUN/dnsdist.conf" <<EOF
setSecurityPollSuffix("")
setLocal("127.0.0.1:$1", {reusePort=false})
setACL({"127.0.0.0/8"})
newServer({address="127.0.0.1:$UP_PORT", name="upstream", checkName="bench."})
local pc = newPacketCache(10000, {maxTTL=86400, minTTL=0})
getPool(""):setCache(pc)
local smn = newSuffixMatchNode()
for line in io.lines("$DATA/blocklist.domains") do smn:add(line) end
addAction(SuffixMatchNodeRule(smn, true), SpoofAction("0.0.0.0"))
EOF
}

# hush_config VARIANT -> $RUN/VARIANT.toml.  Rate limit off (as for every
# peer), the same 10,000-entry cache as dnsmasq and dnsdist, no HTTP
# listener (it would want port 8080); hush-nolog also turns the query log
# off, which no peer has.  Each key is kept only if this hush accepts it
# (`hush check`), so an older binary still runs.
hush_config() {
  local variant=$1 kv sec key
  local wanted=("access.rate_limit = 0" "cache.max_entries = 10000" 'http.listen = ""')
  if [ "$variant" = hush-nolog ]; then wanted+=("querylog.enabled = false"); fi
  if [ "$variant" = hush ] && [ -n "$LOG_CAP" ]; then wanted+=("querylog.max_size_mib = $LOG_CAP"); fi
  : >"$RUN/$variant.toml"
  for kv in "${wanted[@]}"; do
    sec=${kv%%.*}
    key=${kv#*.}
    printf '[%s]\n%s\n' "$sec" "$key" >"$RUN/hush-try.toml"
    if "$HUSH" check -c "$RUN/hush-try.toml" >/dev/null 2>&1; then
      printf '[%s]\n%s\n\n' "$sec" "$key" >>"$RUN/$variant.toml"
    elif ! grep -qF "$kv" "$NOTES"; then
      note "this hush does not take '$kv'; $variant runs without it"
    fi
  done
}

server_cmd() { # NAME PORT THREADS CPUS -> SRV_CMD array
  local name=$1 port=$2 threads=$3 cpus=$4
  case "$name" in
    floor) SRV_CMD=("${PRIO[@]}" taskset -c "$cpus" "$OUT/floor" -p "$port" -t "$threads") ;;
    hush|hush-nolog)
      if [ "${KEEP_DATA:-0}" != 1 ]; then rm -rf "$RUN/hush-data"; fi
      mkdir -p "$RUN/hush-data"
      hush_config "$name"
      SRV_CMD=("${PRIO[@]}" taskset -c "$cpus" "$HUSH" serve --listen "127.0.0.1:$port" --upstream "127.0.0.1:$UP_PORT"
               --data-dir "$RUN/hush-data" --threads "$threads" --config "$RUN/$name.toml")
      if [ "$HUSH_BLOCKLIST" = 1 ]; then SRV_CMD+=(--blocklist "$DATA/blocklist.hosts"); fi
      ;;
    dnsmasq)
      # (dnsmasq wants --opt=value for options whose value is optional)
      SRV_CMD=("${PRIO[@]}" taskset -c "$cpus" dnsmasq --no-daemon --conf-file=/dev/null --port="$port"
               --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts
               --server="127.0.0.1#$UP_PORT" --cache-size=10000 --dns-forward-max=1000
               --addn-hosts="$DATA/blocklist.hosts" --user=root --group=root) ;;
    dnsmasq-addr)
      # the same, blocking with one address=/name/0.0.0.0 line per name
      # (suffix match, kept in dnsmasq's sorted server-domain table)
      SRV_CMD=("${PRIO[@]}" taskset -c "$cpus" dnsmasq --no-daemon --conf-file="$DATA/blocklist.dnsmasq.conf"
               --port="$port" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts
               --server="127.0.0.1#$UP_PORT" --cache-size=10000 --dns-forward-max=1000
               --user=root --group=root) ;;
    unbound)
      write_unbound_peer "$port" "$threads"
      SRV_CMD=("${PRIO[@]}" taskset -c "$cpus" unbound -d -c "$RUN/unbound-peer.conf") ;;
    dnsdist)
      write_dnsdist "$port"
      SRV_CMD=("${PRIO[@]}" taskset -c "$cpus" dnsdist --supervised --disable-syslog -C "$RUN/dnsdist.conf") ;;
  esac
}

# ---------------------------------------------------------------- single-thread runs
SERVERS=()
for name in $ONLY; do
  SERVERS+=("$name")
  port=$(alloc_port)
  if is_hush "$name" && [ -n "$HUSH_NA" ]; then
    for mix in $MIXES; do na_row "$name" "$mix" single "$HUSH_NA"; done
    continue
  fi
  server_cmd "$name" "$port" 1 0
  any=0
  [ "$name" = floor ] && any=1
  is_hush "$name" && [ "$HUSH_BLOCKLIST" = 0 ] && any=1
  if ! start_server "$name" "$port" "$any" startup "${SRV_CMD[@]}"; then
    for mix in $MIXES; do na_row "$name" "$mix" single "did not start"; done
    continue
  fi
  if is_hush "$name" && [ "$HUSH_BLOCKLIST" = 0 ]; then
    for mix in blocked distinct; do has_mix "$mix" && na_row "$name" "$mix" single "no --blocklist yet"; done
  fi
  alive_after=1
  for r in $(seq 1 "$REPS"); do
    for mix in $MIXES; do
      [ "$mix" = flood ] && continue  # once, after the others: it fills what it can
      is_hush "$name" && [ "$HUSH_BLOCKLIST" = 0 ] && [[ $mix == blocked || $mix == distinct ]] && continue
      measure "$name" "$mix" single 1 1 "$port" "$r" --set threads=1 || { alive_after=0; break 2; }
    done
  done
  if has_mix flood && [ "$alive_after" = 1 ]; then
    measure "$name" flood single 1 1 "$port" 1 --set threads=1 || true
  fi
  stop_pid "$SRV_PID"
  if [ "$name" = hush ]; then
    # Rows the query log could not keep up with are counted, not written:
    # say how many, since a log that drops work looks cheaper than it is.
    logged=$(sqlite3 "$RUN/hush-data/hush.db" "select coalesce(sum(n), 0) from query_blocks" 2>/dev/null || echo "?")
    dropped=$(sqlite3 "$RUN/hush-data/hush.db" "select value from meta where key = 'dropped'" 2>/dev/null)
    note "hush's query log over its single-thread loads: $logged records written, ${dropped:-0} dropped while the writer was behind"
  fi
  if [ "$name" = hush ] && [ "$HUSH_BLOCKLIST" = 1 ]; then
    # Second start with the same data dir: hush may reuse its compiled list.
    KEEP_DATA=1 server_cmd hush "$port" 1 0
    start_server hush-restart "$port" 0 restart "${SRV_CMD[@]}" || true
    stop_pid "$SRV_PID"
  fi
done

# ---------------------------------------------------------------- scaling runs
if [ "$SCALE" = 1 ]; then
  for name in floor hush; do
    [[ " $ONLY " == *" $name "* ]] || continue
    [ "$name" = hush ] && [ -n "$HUSH_NA" ] && continue
    for threads in 1 2; do
      port=$(alloc_port)
      server_cmd "$name" "$port" "$threads" 0,1
      any=0
      [ "$name" = floor ] && any=1
      is_hush "$name" && [ "$HUSH_BLOCKLIST" = 0 ] && any=1
      if ! start_server "$name-t$threads" "$port" "$any" scale-startup "${SRV_CMD[@]}"; then
        continue
      fi
      [ "$name" = hush ] && [ "$HUSH_BLOCKLIST" = 0 ] && na_row hush blocked scale "no --blocklist yet" "$threads"
      for r in $(seq 1 "$REPS"); do
        for mix in blocked hit; do
          [ "$name" = hush ] && [ "$HUSH_BLOCKLIST" = 0 ] && [ "$mix" = blocked ] && continue
          threads=$threads measure "$name" "$mix" scale 0,1 2 "$port" "$r" --set threads="$threads" || break 2
        done
      done
      stop_pid "$SRV_PID"
    done
  done
fi

stop_pid "$UP_PID"
if [ "${QUIET_WAITED:-0}" -gt 0 ]; then
  note "waited ${QUIET_WAITED} s in all for other processes' load to drop below 10% (budget $QUIET s)"
fi

# ---------------------------------------------------------------- report
T_END=$(date +%s)
ver() { "$@" 2>&1 | head -1 | sed 's/[[:space:]]*$//'; }
export B_DATE B_NPROC B_CPU B_KERNEL B_MEM B_DOMAINS=$DOMAINS B_SEED=$SEED B_DURATION=$DURATION \
  B_CLIENTS=$CLIENTS B_OUTSTANDING=$OUTSTANDING B_ELAPSED=$((T_END - T_START)) B_ARGV="$ARGV" \
  B_SERVERS="${SERVERS[*]}" B_NOTES="$NOTES" B_QUICK=$QUICK B_REPS=$REPS
B_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
B_NPROC=$(nproc)
B_CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
B_KERNEL=$(uname -r)
B_MEM=$(awk '/^MemTotal:/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
export V_DNSPERF V_UNBOUND V_DNSMASQ V_DNSDIST V_HUSH V_CC
V_DNSPERF=$(dnsperf -h 2>&1 | awk '/^Version/ {print $2}' || true)
V_UNBOUND=$(unbound -V 2>&1 | awk '/^Version/ {print $2}' || true)
V_DNSMASQ=$(dnsmasq --version 2>&1 | awk 'NR==1 {print $3}' || true)
V_DNSDIST=$(dnsdist --version 2>&1 | awk 'NR==1 {print $2}' || true)
V_CC=$(ver cc --version)
if [ -n "$HUSH_NA" ] || [ "$WANT_HUSH" = 0 ]; then V_HUSH="n/a"; else
  V_HUSH="$("$HUSH" version 2>/dev/null | head -1 | sed 's/^hush *//') ($HUSH_DESC)"
fi
$PY - >"$RUN/meta.json" <<'EOF'
import json, os
e = os.environ
notes = [l.strip() for l in open(e["B_NOTES"]) if l.strip()]
print(json.dumps({
    "title": "quick run" if e["B_QUICK"] == "1" else "full run",
    "date": e["B_DATE"], "nproc": e["B_NPROC"], "cpu": e["B_CPU"], "kernel": e["B_KERNEL"],
    "mem_gib": e["B_MEM"], "domains": e["B_DOMAINS"], "seed": e["B_SEED"],
    "duration": e["B_DURATION"], "clients": e["B_CLIENTS"], "outstanding": e["B_OUTSTANDING"],
    "elapsed_s": e["B_ELAPSED"], "reps": e["B_REPS"], "argv": e["B_ARGV"], "servers": e["B_SERVERS"].split(),
    "versions": {"hush": e["V_HUSH"], "dnsmasq": e["V_DNSMASQ"], "unbound": e["V_UNBOUND"],
                 "dnsdist": e["V_DNSDIST"], "dnsperf": e["V_DNSPERF"], "cc": e["V_CC"]},
    "notes": notes}, indent=1))
EOF
$LIB report --results "$RESULTS" --meta "$RUN/meta.json" --output "$RUN/report.md"

if [ "$DOCS" = 1 ]; then
  DOC="$ROOT/docs/BENCHMARKS.md"
  $PY - "$DOC" "$RUN/report.md" <<'EOF'
import sys
doc, rep = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
b, e = "<!-- results:begin -->", "<!-- results:end -->"
if b in text and e in text:
    text = text[:text.index(b) + len(b)] + "\n" + rep + text[text.index(e):]
else:
    text += "\n" + b + "\n" + rep + e + "\n"
open(doc, "w").write(text)
EOF
  log "wrote $DOC"
fi
log "done in $((T_END - T_START)) s; raw results in $RUN"
