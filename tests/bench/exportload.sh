# The load exportcost.sh and dnstapcost.sh share (sourced, not run): the
# loopback unbound, a 1,000-name list with its blocked mix and a cached mix
# of 1,000 names under bench., and one measured hush run.
# Needs W (work dir), PIDS (array), UP, DNS, HTTP (ports), SECONDS_PER_RUN.
# shellcheck source=tests/bench/upstream.sh
. "$(dirname "${BASH_SOURCE[0]}")/upstream.sh"

# Starts unbound on $UP and writes the list and the two query files.
export_load_setup() {
  bench_upstream_conf "$W/unbound.conf" "$UP" "$W"
  unbound -d -c "$W/unbound.conf" >"$W/unbound.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1000); do echo "ad$i.example"; done >"$W/list.txt"
  for i in $(seq 1000); do echo "ad$i.example A"; done >"$W/blocked.q"
  for i in $(seq 1000); do echo "n$i.bench A"; done >"$W/cached.q"
}

# hush's base configuration (one thread, the list, /metrics) into file $1,
# with its data in $2; callers append their export's table.
export_load_config() {
  printf '[server]\nlisten = ["127.0.0.1:%s"]\ndata_dir = "%s"\nthreads = 1\n[upstream]\nservers = ["127.0.0.1:%s"]\n[http]\nlisten = "127.0.0.1:%s"\n[[lists]]\npath = "%s"\n' \
    "$DNS" "$2" "$UP" "$HTTP" "$W/list.txt" >"$1"
}

export_load_metric() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

# Runs hush BIN with configuration CFG, fills the cache, loads each mix for
# SECONDS_PER_RUN with dnsperf and prints one line per mix: LABEL, QPS, hush's
# CPU µs per answer, and the metrics SENT and DROPPED.
# Usage: export_load_run LABEL BIN CFG SENT_METRIC DROPPED_METRIC
export_load_run() {
  local label=$1 bin=$2 cfg=$3 sent=$4 dropped=$5
  "$bin" serve -c "$cfg" --user "" >"$cfg.log" 2>&1 &
  local h=$!
  PIDS+=($h)
  for _ in $(seq 100); do dig @127.0.0.1 -p "$DNS" +time=1 +tries=1 n0.bench >/dev/null 2>&1 && break; sleep 0.1; done
  dnsperf -s 127.0.0.1 -p "$DNS" -d "$W/cached.q" -n 1 -q 100 >/dev/null 2>&1  # fill the cache
  if [ -n "${AFTER_START:-}" ]; then eval "$AFTER_START"; fi  # a caller's step once hush runs (AFTER_START)
  local mix t0 t1 out answers qps us
  for mix in blocked cached; do
    t0=$(awk '{print $14 + $15}' "/proc/$h/stat")
    out=$(dnsperf -s 127.0.0.1 -p "$DNS" -d "$W/$mix.q" -l "$SECONDS_PER_RUN" -c 4 -q 200 2>&1)
    t1=$(awk '{print $14 + $15}' "/proc/$h/stat")
    answers=$(echo "$out" | awk '/Queries completed/ {print $3}')
    qps=$(echo "$out" | awk '/Queries per second/ {print $4}')
    us=$(awk -v t=$((t1 - t0)) -v a="$answers" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / a}')
    echo "$label mix=$mix qps=$qps answers=$answers cpu_us_per_answer=$us sent=$(export_load_metric "$sent") dropped=$(export_load_metric "$dropped")"
  done
  if [ -n "${BEFORE_STOP:-}" ]; then eval "$BEFORE_STOP"; fi  # and before it stops (BEFORE_STOP)
  kill "$h"
  wait "$h" 2>/dev/null || true
}
