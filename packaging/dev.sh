#!/usr/bin/env bash
# Set-up for a fresh Debian bookworm machine.
#   bash packaging/dev.sh run   install what is missing, build, start `hush serve` on the embedded default
#   bash packaging/dev.sh test  install what is missing, build, run every test
set -euo pipefail
cd "$(dirname "$0")/.."

build_deps=(build-essential cmake pkg-config
  libldns-dev libuv1-dev libsqlite3-dev libcli11-dev catch2 libtomlplusplus-dev
  libcurl4-openssl-dev libcpp-httplib-dev nlohmann-json3-dev libidn2-dev libre2-dev
  libssl-dev   # scrypt and SHA-256 for the dashboard's password and API tokens; DNS over TLS
  libnghttp2-dev  # DNS over HTTPS for the devices: the HTTP/2 server session
  libpsl-dev   # registrable domains for the phone-home report
  zlib1g-dev   # the query log deflates its blocks of rows
  liboath-dev libqrencode-dev   # the dashboard's two-factor login: TOTP codes, the enrolment QR code
  libfstrm-dev libprotobuf-c-dev protobuf-c-compiler  # dnstap export: Frame Streams, protobuf-c
  libabsl-dev)  # schedules' time zones over the system's tz database
# What `hush serve` needs at run time besides shared libraries: the root's
# DNSSEC trust anchor (dnssec.trust_anchor, /usr/share/dns/root.key).
runtime_deps=(dns-root-data ca-certificates tzdata)  # ca-certificates: the CA store tls:// upstreams are checked against; tzdata: schedules' zones
test_deps=(unbound dnsutils knot-dnsutils ldnsutils sqlite3 python3 iproute2 procps
  openssl  # the throwaway CA and certificates of the DNS over TLS tests
  dnsdist  # a second real DoT and DoH upstream (dot_upstream_test)
  dpkg-dev systemd lintian   # cpack's dpkg-shlibdeps; systemd-analyze verify; lintian
  fstrm-bin bind9-dnsutils curl
  oathtool)  # an independent TOTP implementation the two-factor tests take codes from  # dnstap tests: collector (fstrm_capture), decoder (dnstap-read); curl for /metrics
fuzz_deps=(clang-14 libclang-rt-14-dev)
# The dashboard's browser test: Debian's Chromium, driven by playwright-core
# from npm (tests/e2e/package-lock.json); Debian's node and npm only when
# there is no node at all.
web_test_deps=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || web_test_deps+=(nodejs npm)

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
  cmake --build build -j"$(nproc)"
}

case "${1:-}" in
  run)
    install_missing "${build_deps[@]}" "${runtime_deps[@]}"
    build -DHUSH_BUILD_TESTS=OFF
    exec ./build/hush serve "${@:2}"
    ;;
  test)
    install_missing "${build_deps[@]}" "${runtime_deps[@]}" "${test_deps[@]}" "${fuzz_deps[@]}" "${web_test_deps[@]}"
    (cd tests/e2e && npm ci --no-audit --no-fund)
    build -DHUSH_BUILD_TESTS=ON
    # Two at a time: most tests wait on servers and browsers, and every test takes its own free ports.
    (cd build && ctest -j2 --output-on-failure --timeout 900)
    # The whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHUSH_SANITIZE=ON
    cmake --build build-asan -j"$(nproc)"
    (cd build-asan && ctest -j2 --output-on-failure --timeout 900)
    # Each fuzz target for a bounded time (HUSH_FUZZ_SECONDS, default 30).
    bash tests/fuzz/run.sh "${HUSH_FUZZ_SECONDS:-30}"
    ;;
  *)
    echo "usage: $0 run|test" >&2
    exit 2
    ;;
esac
