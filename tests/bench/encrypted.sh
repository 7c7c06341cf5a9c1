#!/usr/bin/env bash
# Encrypted DNS, hush against dnsdist 1.7.3 with the same certificate, in
# one run: serving DoT (dot.sh: dnsperf -m dot QPS and CPU per answer for a
# cached and a blocked name, new connections per second with and without
# resumption, 10,000 idle connections), serving DoH (doh.sh: h2load, the
# same names; idle HTTP/2 connections) and forwarding (upstream_tls.sh: the
# latency a DoT and a DoH upstream add over UDP to the same unbound). Each
# script alternates hush and dnsdist, both pinned to the same core, ROUNDS
# times; the table at the end is each row's median, with the load average
# seen before and after. Not a timed test: run by hand, figures to
# docs/BENCHMARKS.md.
#   bash tests/bench/encrypted.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-5}
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average before: $(load)"
bash tests/bench/dot.sh "$build" 5 10000 "$rounds" | tee -a "$rows"
bash tests/bench/doh.sh "$build" 8 "$rounds" | tee -a "$rows"
bash tests/bench/upstream_tls.sh "$build" 20000 "$rounds" | tee -a "$rows"
echo "load average after: $(load)"
echo
echo "medians over $rounds rounds:"
# Rows that differ only in their numbers (and the spaces padding them) are
# one row; each number becomes its median.
python3 - "$rows" <<'PY'
import re, statistics, sys
groups = {}
number = re.compile(r"-?\d+(?:\.\d+)?")
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    key = re.sub(r"\s+", " ", number.sub("#", line)).strip()
    groups.setdefault(key, []).append([float(x) for x in number.findall(line)])
for key, rows in groups.items():
    if len(rows) < 2:
        continue
    medians = iter(statistics.median(col) for col in zip(*rows))
    print(re.sub("#", lambda _: ("%.1f" % next(medians)).removesuffix(".0"), key))
PY
