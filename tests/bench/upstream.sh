# Sourced by the benchmark scripts: the configuration of their shared
# upstream, one unbound that answers every name under bench. with 192.0.2.1
# and refuses everything else (it never recurses to the Internet).
# Usage: bench_upstream_conf FILE PORT DIR
bench_upstream_conf() {
  cat >"$1" <<EOF
server:
  interface: 127.0.0.1
  port: $2
  do-ip6: no
  so-reuseport: no
  num-threads: 1
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  directory: "$3"
  use-syslog: no
  logfile: ""
  verbosity: 0
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "." refuse
  local-zone: "bench." redirect
  local-data: "bench. 3600 IN A 192.0.2.1"
remote-control:
  control-enable: no
EOF
}
