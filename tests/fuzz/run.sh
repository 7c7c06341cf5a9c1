#!/usr/bin/env bash
# Builds the fuzz targets with clang and libFuzzer (plus ASan and UBSan) and
# runs each for a bounded time on its seed corpus. A crash leaves its input
# in tests/fuzz/findings/; copy it to tests/fuzz/regressions/TARGET/ once fixed.
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET]
# HUSH_FUZZ_SEED (default 1) makes a run repeatable, as CI needs; 0 lets
# libFuzzer pick a new seed each run, for exploring. HUSH_FUZZ_TARGETS (a
# space-separated subset) and HUSH_FUZZ_BUILD (the build directory, default
# build-fuzz) are for running a few targets longer beside other builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
seed=${HUSH_FUZZ_SEED:-1}
build=${HUSH_FUZZ_BUILD:-build-fuzz}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DHUSH_FUZZ=ON -DHUSH_BUILD_TESTS=ON > /dev/null
read -r -a targets <<< "${HUSH_FUZZ_TARGETS:-dns_query dns_reply validate blocklist config local_zone http doh backup}"
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" > "$build/fuzz-build.log"
mkdir -p tests/fuzz/findings
failed=0
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$t/." "$work/"
  if "$build/tests/fuzz/fuzz_$t" "$work" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="tests/fuzz/findings/$t-" -print_final_stats=1 < /dev/null > "$build/fuzz-$t.log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$build/fuzz-$t.log" | awk '{print $2}')
    rate=$(grep -m1 'stat::average_exec_per_sec' "$build/fuzz-$t.log" | awk '{print $2}')
    echo "fuzz $t: ${execs:-?} executions in ${seconds}s (${rate:-?}/s), no crash"
  else
    echo "fuzz $t: FAILED, see $build/fuzz-$t.log and tests/fuzz/findings/"
    tail -30 "$build/fuzz-$t.log"
    failed=1
  fi
  rm -rf "$work"
done
exit $failed
