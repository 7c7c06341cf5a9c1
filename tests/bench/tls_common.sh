# Sourced by the TLS benches (dot.sh, doh.sh, upstream_tls.sh): the hush
# binary of $build, a work directory removed on exit with every process in
# $pids, free loopback ports and a throwaway P-256 certificate; the tools
# they drive (dnsdist, h2load, dnsperf, kdig, unbound) are installed first.
# The peers and clients come from Debian: installed when missing.
need=()
for tool in dnsdist:dnsdist h2load:nghttp2-client dnsperf:dnsperf kdig:knot-dnsutils unbound:unbound; do
  command -v "${tool%%:*}" > /dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "apt-get install ${need[*]}" >&2
  apt-get install -y -q --no-install-recommends "${need[@]}" > /dev/null ||
    { apt-get update -q > /dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" > /dev/null; }
fi
hush=$PWD/$build/resolver/app/hush
[ -x "$hush" ] || hush=$PWD/$build/hush
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench_certificate CN SUBJECT_ALT_NAME: key.pem and cert.pem in $work.
bench_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 2 -subj "/CN=$1" -addext "subjectAltName=$2" 2>/dev/null
}

# bench_unbound PORT: an unbound on 127.0.0.1:PORT answering www.bench.test
# from a local zone, for servers that forward and cache.
bench_unbound() {
  cat > "$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: $1
  do-daemonize: no
  use-syslog: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: ""
  access-control: 127.0.0.0/8 allow
  local-zone: "bench.test." static
  local-data: "www.bench.test. 3600 IN A 192.0.2.1"
CONF
  unbound -d -c "$work/unbound.conf" > "$work/unbound.log" 2>&1 &
  pids+=($!)
}
