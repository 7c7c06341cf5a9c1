#!/usr/bin/env python3
"""Differential test of hush against unbound (not a ctest test; standard library only).

Starts three servers on 127.0.0.1, each on a free port:
  auth     unbound serving a generated zone `diff.test.` from an auth-zone file
           (A, AAAA, MX, TXT, CNAME chains, a CNAME to a missing name, names
           with several types, empty non-terminals, wildcards, NXDOMAIN and
           NODATA cases; documentation addresses only, so hush's rebinding
           protection applies unchanged) and refusing every other name;
  unbound  a second unbound forwarding "." to auth, no validation, cache on;
  hush     `hush serve --upstream auth`, defaults otherwise.

Each question (name, type, mode: UDP without EDNS / with EDNS / with EDNS+DO,
or EDNS over TCP for a quarter of them; RD set) is asked
twice of hush and twice of unbound (the second answer comes from the cache),
once of auth (the ground truth for TTLs), and the answers are compared field
by field: rcode, the flags QR AA TC RD RA AD CD, the answer, authority and
additional sections (sets of (name, type, rdata); TTLs compared only as "not
above auth's"), and the OPT record (present, DO echoed). ANY questions (hush
answers RFC 8482's HINFO on purpose), EDE options and hush's own names are
counted apart, with their reason.

  tests/bench/differential.py --hush build/hush [--markdown out.md] [--keep]

Everything is on 127.0.0.1; every loop is bounded; the whole run stops after
--budget seconds (default 60) and reports what it has; the servers it
started are stopped by pid at exit.
"""
import argparse
import atexit
import ipaddress
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from loopback import free_port, wire_name

ZONE = "diff.test."
T = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16,
     "AAAA": 28, "SRV": 33, "OPT": 41, "ANY": 255}
TNAME = {v: k for k, v in T.items()}
RCODE = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
FLAGS = (("QR", 0x8000), ("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100), ("RA", 0x0080),
         ("AD", 0x0020), ("CD", 0x0010))
MODES = ("plain", "edns", "do", "tcp")

# ---------------------------------------------------------------- processes

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.terminate()
    for p in _procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def _on_signal(sig, _frame):
    _cleanup()
    sys.exit(128 + sig)


def spawn(argv, log):
    p = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    _procs.append(p)
    return p


# ---------------------------------------------------------------- wire format

def make_query(qid, name, qtype, mode):
    ar = 0 if mode == "plain" else 1
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, ar) + wire_name(name) + struct.pack(">HH", qtype, 1)
    if ar:
        q += b"\x00" + struct.pack(">HHIH", 41, 1232, 0x8000 if mode == "do" else 0, 0)
    return q


def read_name(msg, i, depth=0):
    labels = []
    jumped = False
    end = i
    for _ in range(128):
        if i >= len(msg):
            raise ValueError("name past end")
        n = msg[i]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = i + 2
            jumped = True
            i = ((n & 0x3F) << 8) | msg[i + 1]
            continue
        if n == 0:
            if not jumped:
                end = i + 1
            return (".".join(labels) + ".").lower() if labels else ".", end
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += n + 1
    raise ValueError("name loop")


def strings(rd):
    out, j = [], 0
    while j < len(rd):
        n = rd[j]
        out.append(rd[j + 1:j + 1 + n].decode("ascii", "replace"))
        j += n + 1
    return " ".join('"%s"' % s for s in out)


def rdata_text(msg, rtype, i, rdlen):
    rd = msg[i:i + rdlen]
    if rtype == 1 and rdlen == 4:
        return str(ipaddress.IPv4Address(rd))
    if rtype == 28 and rdlen == 16:
        return str(ipaddress.IPv6Address(rd))
    if rtype in (2, 5, 12):
        return read_name(msg, i)[0]
    if rtype == 15:
        return "%d %s" % (struct.unpack(">H", rd[:2])[0], read_name(msg, i + 2)[0])
    if rtype == 6:
        mname, j = read_name(msg, i)
        rname, j = read_name(msg, j)
        return "%s %s %d %d %d %d %d" % ((mname, rname) + struct.unpack(">IIIII", msg[j:j + 20]))
    if rtype in (13, 16):
        return strings(rd)
    return "\\# %d %s" % (rdlen, rd.hex())


def parse(msg):
    """A dict of the parts compared, or None for a message too short."""
    if len(msg) < 12:
        return None
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    i = 12
    for _ in range(qd):
        i = read_name(msg, i)[1] + 4
    secs = {"answer": [], "authority": [], "additional": []}
    opt = None
    for sec, count in (("answer", an), ("authority", ns), ("additional", ar)):
        for _ in range(count):
            name, i = read_name(msg, i)
            rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[i:i + 10])
            i += 10
            if rtype == 41:
                opts, j = [], i
                while j + 4 <= i + rdlen:
                    code, olen = struct.unpack(">HH", msg[j:j + 4])
                    opts.append((code, msg[j + 4:j + 4 + olen]))
                    j += 4 + olen
                opt = {"do": bool(ttl & 0x8000), "size": rclass, "ext_rcode": ttl >> 24, "options": opts}
            else:
                secs[sec].append((name, TNAME.get(rtype, str(rtype)), rdata_text(msg, rtype, i, rdlen), ttl))
            i += rdlen
    rcode = (flags & 0xF) | ((opt["ext_rcode"] << 4) if opt else 0)
    return {"id": qid, "rcode": RCODE.get(rcode, str(rcode)), "flags": flags, "opt": opt, **secs}


def exchange_tcp(addr, name, qtype, deadline):
    """One EDNS question over a new TCP connection; 3 s at most."""
    qid = random.getrandbits(16)
    q = make_query(qid, name, qtype, "edns")
    try:
        with socket.create_connection(addr, timeout=max(0.05, min(3.0, deadline - time.monotonic()))) as c:
            c.sendall(struct.pack(">H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                part = c.recv(65535)
                if not part:
                    return None
                buf += part
    except OSError:
        return None
    msg = buf[2:2 + struct.unpack(">H", buf[:2])[0]]
    return parse(msg) if struct.unpack(">H", msg[:2])[0] == qid else None


def exchange(sock, addr, name, qtype, mode, deadline):
    """One question; over UDP two tries of 1.5 s, never past `deadline`."""
    if mode == "tcp":
        return exchange_tcp(addr, name, qtype, deadline)
    for _ in range(2):
        qid = random.getrandbits(16)
        sock.sendto(make_query(qid, name, qtype, mode), addr)
        until = min(time.monotonic() + 1.5, deadline)
        while True:
            left = until - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                break
            if peer == addr and len(data) >= 2 and struct.unpack(">H", data[:2])[0] == qid:
                return parse(data)
    return None


# ---------------------------------------------------------------- the zone and questions

def build_zone(n_hosts):
    """The zone file text and the list of (name, [types]) to ask."""
    z = ["$ORIGIN diff.test.", "$TTL 3600",
         "@ 3600 IN SOA ns1.diff.test. admin.diff.test. 2026120701 7200 900 1209600 300",
         "@ IN NS ns1.diff.test.", "ns1 IN A 192.0.2.53", "mail IN A 192.0.2.25",
         "mail IN AAAA 2001:db8::25", "probe IN A 192.0.2.254"]
    ask = [(ZONE, ["SOA", "NS", "MX"]), ("ns1." + ZONE, ["A", "AAAA"]), ("mail." + ZONE, ["A", "AAAA"])]
    rot = ["AAAA", "MX", "TXT", "ANY", "CNAME"]
    for i in range(n_hosts):
        h = "h%d" % i
        z.append("%s 600 IN A 192.0.2.%d" % (h, 1 + i % 200))
        if i % 2 == 0:
            z.append("%s IN AAAA 2001:db8::%x" % (h, i + 1))
        if i % 3 == 0:
            z.append("%s IN MX %d mail.diff.test." % (h, 10 + i % 5))
        if i % 5 == 0:
            z.append('%s 120 IN TXT "v=h%d" "second string"' % (h, i))
        if i % 9 == 1:  # every ninth host asked
            ask.append((h + "." + ZONE, ["A", rot[i % len(rot)]]))
    for i in range(10):
        z.append("v6only%d IN AAAA 2001:db8:6::%x" % (i, i + 1))
        ask.append(("v6only%d.%s" % (i, ZONE), ["AAAA", "A"]))
    for i in range(20):
        z.append("c%d 300 IN CNAME h%d.diff.test." % (i, i))
        ask.append(("c%d.%s" % (i, ZONE), ["A", "CNAME"] if i % 2 else ["A", "AAAA"]))
    for i in range(10):
        z.append("chain%d IN CNAME c%d.diff.test." % (i, i))
        ask.append(("chain%d.%s" % (i, ZONE), ["A", "TXT"]))
    for i in range(10):
        z.append("dangling%d IN CNAME missing%d.diff.test." % (i, i))
        ask.append(("dangling%d.%s" % (i, ZONE), ["A", "CNAME"]))
    for i in range(10):
        m = "multi%d" % i
        z += ["%s IN A 192.0.2.%d" % (m, 100 + k + 3 * i) for k in range(3)]
        z += ["%s IN AAAA 2001:db8:1::%x:%x" % (m, i, k) for k in range(2)]
        z += ['%s IN TXT "multi %d text %d"' % (m, i, k) for k in range(2)]
        z.append("%s IN MX 5 mail.diff.test." % m)
        ask.append((m + "." + ZONE, ["A", "AAAA", "TXT", "MX"]))
    for i in range(10):
        z.append("a.b.ent%d IN A 192.0.2.%d" % (i, 150 + i))
        ask += [("a.b.ent%d.%s" % (i, ZONE), ["A"]), ("b.ent%d.%s" % (i, ZONE), ["A"]),
                ("ent%d.%s" % (i, ZONE), ["A", "TXT"])]
    z += ["*.wild IN A 192.0.2.200", '*.wild IN TXT "wildcard"', "real.wild IN A 192.0.2.201",
          "*.wc IN CNAME h1.diff.test."]
    ask += [("wild." + ZONE, ["A"]), ("real.wild." + ZONE, ["A", "TXT"])]
    ask += [("w%d.wild.%s" % (i, ZONE), ["A", "TXT", "AAAA"]) for i in range(4)]
    ask += [("x.y%d.wild.%s" % (i, ZONE), ["A"]) for i in range(3)]
    ask += [("w%d.wc.%s" % (i, ZONE), ["A", "CNAME"]) for i in range(4)]
    # 12 TXT strings of 60 bytes: over 512 bytes, under 1232.
    z += ['big IN TXT "%02d%s"' % (k, "x" * 58) for k in range(12)]
    ask.append(("big." + ZONE, ["TXT", "A"]))
    ask += [("nx%d.%s" % (i, ZONE), ["A", "AAAA"] if i % 2 else ["A"]) for i in range(20)]
    ask += [("sub.h%d.%s" % (i, ZONE), ["A"]) for i in range(10)]
    return "\n".join(z) + "\n", ask


# Names hush answers itself, by design (README "How it answers" / [local]).
OWN_NAMES = [("use-application-dns.net.", "A", "special name: NXDOMAIN canary"),
             ("hush.lan.", "A", "hush's own name under local.domain"),
             ("nas.lan.", "A", "names under local.domain never leave hush"),
             ("printer.", "A", "bare host names never leave hush")]


# ---------------------------------------------------------------- servers

UNBOUND_BASE = """server:
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  do-daemonize: no
  verbosity: 1
  num-threads: 1
  interface: 127.0.0.1@{port}
  port: {port}
  so-reuseport: no
  do-ip4: yes
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  edns-buffer-size: 1232
  max-udp-size: 1232
  local-zone: "test." nodefault
{extra}remote-control:
  control-enable: no
"""


def start_unbound(tmp, name, port, extra):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    conf = os.path.join(d, "unbound.conf")
    with open(conf, "w") as f:
        f.write(UNBOUND_BASE.format(dir=d, port=port, extra=extra))
    return spawn(["unbound", "-d", "-c", conf], os.path.join(d, "unbound.log")), os.path.join(d, "unbound.log")


def wait_answer(sock, proc, addr, log, what, seconds=10):
    """Poll until `addr` answers probe.diff.test A with its address (bounded)."""
    deadline = time.monotonic() + seconds
    for _ in range(500):
        if proc.poll() is not None:
            sys.exit("%s exited (%s); log %s:\n%s" % (what, proc.returncode, log, open(log).read()[-2000:]))
        if time.monotonic() > deadline:
            break
        r = exchange(sock, addr, "probe." + ZONE, 1, "edns", time.monotonic() + 0.2)
        if r and r["rcode"] == "NOERROR" and any(a[2] == "192.0.2.254" for a in r["answer"]):
            return
        time.sleep(0.02)
    sys.exit("%s on %s did not answer within %d s; log %s" % (what, addr, seconds, log))


# ---------------------------------------------------------------- comparison

FIELDS = ["rcode"] + [f for f, _ in FLAGS] + ["answer", "authority", "additional", "edns", "ttl"]


def rrset(sec):
    return sorted((n, t, d) for n, t, d, _ in sec)


def edns_view(r):
    o = r["opt"]
    return "none" if o is None else "OPT do=%d" % o["do"]


def ttl_ok(r, auth):
    """Every TTL at most what auth gives for the same record."""
    if auth is None:
        return True
    top = {}
    for sec in ("answer", "authority"):
        for n, t, d, ttl in auth[sec]:
            top[(n, t, d)] = max(ttl, top.get((n, t, d), 0))
    return all(ttl <= top.get((n, t, d), 1 << 31) for sec in ("answer", "authority") for n, t, d, ttl in r[sec])


def field_values(r, auth):
    v = {"rcode": r["rcode"]}
    for f, bit in FLAGS:
        v[f] = bool(r["flags"] & bit)
    for sec in ("answer", "authority", "additional"):
        v[sec] = rrset(r[sec])
    v["edns"] = edns_view(r)
    v["ttl"] = ttl_ok(r, auth)
    return v


def unfinished_chain(r):
    """NOERROR whose answer ends in a CNAME with nothing for its target and no
    SOA: an authoritative answer that leaves the chain to a resolver."""
    if r["rcode"] != "NOERROR" or r["authority"] or not r["answer"]:
        return False
    owners = {n for n, _, _, _ in r["answer"]}
    return any(t == "CNAME" and d not in owners for _, t, d, _ in r["answer"])


def core_same(r, auth):
    return r["rcode"] == auth["rcode"] and rrset(r["answer"]) == rrset(auth["answer"]) and \
        rrset(r["authority"]) == rrset(auth["authority"])


def show(r):
    if r is None:
        return "(no answer)"
    fl = " ".join(f for f, bit in FLAGS if r["flags"] & bit)
    parts = ["%s [%s] %s" % (r["rcode"], fl, edns_view(r))]
    if r["opt"] and r["opt"]["options"]:
        parts.append("opts=" + ",".join("%d:%s" % (c, d.hex()) for c, d in r["opt"]["options"]))
    for sec in ("answer", "authority", "additional"):
        if r[sec]:
            parts.append("%s: %s" % (sec[:4], "; ".join("%s %d %s %s" % (n, ttl, t, d) for n, t, d, ttl in r[sec])))
    return " | ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hush", default="build/hush")
    ap.add_argument("--hosts", type=int, default=300, help="h<N> names in the zone")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds for the questions")
    ap.add_argument("--show", type=int, default=20, help="disagreements printed")
    ap.add_argument("--markdown", help="also write the summary table here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--seed", type=int, default=22)
    args = ap.parse_args()
    random.seed(args.seed)
    if not os.access(args.hush, os.X_OK):
        sys.exit("no hush binary at %s (build the hush target)" % args.hush)
    for tool in ("unbound",):
        if shutil.which(tool) is None:
            sys.exit("%s not found (apt-get install unbound)" % tool)

    atexit.register(_cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    tmp = tempfile.mkdtemp(prefix="hush-diff-")
    if not args.keep:
        atexit.register(shutil.rmtree, tmp, True)
    t_start = time.monotonic()

    zone, ask = build_zone(args.hosts)
    with open(os.path.join(tmp, "diff.zone"), "w") as f:
        f.write(zone)
    taken = set()
    p_auth, p_unb, p_hush = free_port(taken), free_port(taken), free_port(taken)
    auth_addr, unb_addr, hush_addr = ("127.0.0.1", p_auth), ("127.0.0.1", p_unb), ("127.0.0.1", p_hush)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    auth, auth_log = start_unbound(tmp, "auth", p_auth, (
        '  local-zone: "." refuse\n'  # nothing recurses off the machine
        '  local-zone: "diff.test." transparent\n'
        'auth-zone:\n  name: "diff.test."\n  zonefile: "%s"\n  for-downstream: yes\n'
        '  for-upstream: no\n  fallback-enabled: no\n') % os.path.join(tmp, "diff.zone"))
    wait_answer(sock, auth, auth_addr, auth_log, "authoritative unbound")
    unb, unb_log = start_unbound(tmp, "forwarder", p_unb, (
        '  do-not-query-localhost: no\n'
        'forward-zone:\n  name: "."\n  forward-addr: 127.0.0.1@%d\n') % p_auth)
    hush_dir = os.path.join(tmp, "hush")
    os.makedirs(os.path.join(hush_dir, "data"))
    hush_log = os.path.join(hush_dir, "hush.log")
    hush = spawn([args.hush, "serve", "--listen", "127.0.0.1:%d" % p_hush, "--upstream", "127.0.0.1:%d" % p_auth,
                  "--data-dir", os.path.join(hush_dir, "data"), "--threads", "1", "--http", ""], hush_log)
    wait_answer(sock, unb, unb_addr, unb_log, "forwarding unbound")
    wait_answer(sock, hush, hush_addr, hush_log, "hush")
    t_ready = time.monotonic()

    pairs = [(n, t) for n, types in ask for t in types]
    # Over TCP: every fourth (name, type) and the answer too big for 512 bytes.
    questions = [(n, t, m) for k, (n, t) in enumerate(pairs) for m in MODES
                 if m != "tcp" or k % 4 == 0 or n.startswith("big.")]
    own = [(n, t, m, why) for n, t, why in OWN_NAMES for m in MODES if m != "tcp"]
    deadline = t_ready + args.budget
    results = []  # (name, type, mode, auth, [hush1, hush2], [unb1, unb2])
    cut = False
    for n, t, m in questions + [(n, t, m) for n, t, m, _ in own]:
        if time.monotonic() > deadline:
            cut = True
            break
        a = exchange(sock, auth_addr, n, T[t], m, deadline)
        h = [exchange(sock, hush_addr, n, T[t], m, deadline) for _ in range(2)]
        u = [exchange(sock, unb_addr, n, T[t], m, deadline) for _ in range(2)]
        results.append((n, t, m, a, h, u))
    t_done = time.monotonic()

    own_keys = {(n, t, m): why for n, t, m, why in own}
    agree = {f: [0, 0] for f in FIELDS}  # per round: first answer, cached answer
    same = [0, 0]
    compared = [0, 0]
    kinds = {}  # kind -> [examples]
    any_rows, own_rows, ede_only, lost = [], [], 0, 0
    documented = []  # the upstream's unfinished CNAME chain, passed on by hush (README "How it answers")
    seen = {"TC": [0, 0], "AA": [0, 0]}  # answers with the flag: hush, unbound
    for n, t, m, a, h, u in results:
        for rnd in (0, 1):
            hr, ur = h[rnd], u[rnd]
            if hr is None or ur is None:
                lost += 1
                kinds.setdefault("no answer from " + ("hush" if hr is None else "unbound"), []).append(
                    (n, t, m, rnd, hr, ur))
                continue
            hv, uv = field_values(hr, a), field_values(ur, a)
            diff = [f for f in FIELDS if hv[f] != uv[f]]
            if t == "ANY":
                any_rows.append((n, m, rnd, diff, hr, ur))
                continue
            if (n, t, m) in own_keys:
                own_rows.append((n, t, m, rnd, own_keys[(n, t, m)], diff, hr, ur))
                continue
            if diff and a and unfinished_chain(a) and core_same(hr, a):
                documented.append((n, t, m, rnd, diff, hr, ur))
                continue
            compared[rnd] += 1
            same[rnd] += not diff
            for f in FIELDS:
                agree[f][rnd] += hv[f] == uv[f]
            for f in seen:
                seen[f][0] += hv[f]
                seen[f][1] += uv[f]
            hede = [c for c, _ in (hr["opt"] or {}).get("options", []) if c == 15]
            uede = [c for c, _ in (ur["opt"] or {}).get("options", []) if c == 15]
            if not diff and hede != uede:
                ede_only += 1
            if diff:
                # Which side passed on what the authoritative server said.
                av = field_values(a, a) if a else None
                core = ("rcode", "answer", "authority")
                side = ("hush = auth" if av and all(hv[f] == av[f] for f in core) else
                        "unbound = auth" if av and all(uv[f] == av[f] for f in core) else "neither = auth")
                kinds.setdefault("%s (%s)" % (", ".join(diff), side), []).append((n, t, m, rnd, hr, ur))

    def pct(k, d):
        return "%.1f%%" % (100.0 * k / d) if d else "n/a"

    out = []
    w = out.append
    nq = len(results)
    tot = sum(compared)
    w("Questions: %d asked of %d planned (name x type x mode: UDP without EDNS, with EDNS, with EDNS+DO, and EDNS over TCP for a quarter; %d about %s, "
      "%d about hush's own names)%s, each asked twice of hush and of unbound: %d answer pairs compared, "
      "%d of ANY, %d of hush's own names and %d of unfinished CNAME chains counted apart; %d differ only "
      "in EDE options; %d without an answer within 3 s.\n"
      % (nq, len(questions) + len(own), len(questions), ZONE, len(own), ", cut by --budget" if cut else "",
         tot, len(any_rows), len(own_rows), len(documented), ede_only, lost))
    w("| field | agree, all | first answer | cached answer | differ |")
    w("|---|---:|---:|---:|---:|")
    w("| whole answer | %s | %s | %s | %d |" % (pct(sum(same), tot), pct(same[0], compared[0]),
                                              pct(same[1], compared[1]), tot - sum(same)))
    for f in FIELDS:
        label = {"ttl": "TTL ≤ auth's", "edns": "OPT (present, DO)"}.get(f, f)
        g = agree[f]
        w("| %s | %s | %s | %s | %d |" % (label, pct(sum(g), tot), pct(g[0], compared[0]),
                                          pct(g[1], compared[1]), tot - sum(g)))
    w("\nAnswers with AA: hush %d, unbound %d; with TC: hush %d, unbound %d (of %d each). "
      "Start-up %.1f s, questions %.1f s."
      % (seen["AA"][0], seen["AA"][1], seen["TC"][0], seen["TC"][1], tot, t_ready - t_start, t_done - t_ready))
    table = "\n".join(out)
    print(table)

    print("\n## Disagreements by kind (fields that differ (whose core answer, rcode + answer + authority, "
          "is the authoritative server's): count)")
    shown = 0
    if not kinds:
        print("(none)")
    for kind, ex in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        print("\n### %s: %d" % (kind, len(ex)))
        for n, t, m, rnd, hr, ur in ex[:max(1, min(5, args.show - shown))]:
            print("- %s %s %s (%s)" % (n, t, m, "cached" if rnd else "first"))
            print("    hush:    " + show(hr))
            print("    unbound: " + show(ur))
            shown += 1
    print("\n## ANY (RFC 8482: hush answers one HINFO on purpose)")
    akinds = {}
    for n, m, rnd, diff, hr, ur in any_rows:
        akinds.setdefault(", ".join(diff) or "(same)", []).append((n, m, rnd, hr, ur))
    for k, ex in sorted(akinds.items(), key=lambda kv: -len(kv[1])):
        n, m, rnd, hr, ur = ex[0]
        print("- %s: %d, e.g. %s %s:\n    hush:    %s\n    unbound: %s" % (k, len(ex), n, m, show(hr), show(ur)))
    print("\n## Unfinished CNAME chains (documented: hush passes the upstream's answer on, unbound's iterator "
          "asks for the target itself)")
    dk = {}
    for n, t, m, rnd, diff, hr, ur in documented:
        dk.setdefault(", ".join(diff), []).append((n, t, m, hr, ur))
    for k, ex in sorted(dk.items(), key=lambda kv: -len(kv[1])):
        n, t, m, hr, ur = ex[0]
        print("- %s: %d, e.g. %s %s %s:\n    hush:    %s\n    unbound: %s" % (k, len(ex), n, t, m, show(hr), show(ur)))
    print("\n## hush's own names (documented: answered by hush, never forwarded)")
    for n, t, m, rnd, why, diff, hr, ur in own_rows:
        if m == "edns" and rnd == 0:
            print("- %s %s (%s): differs in %s\n    hush:    %s\n    unbound: %s" %
                  (n, t, why, ", ".join(diff) or "nothing", show(hr), show(ur)))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if args.keep:
        print("\nlogs in " + tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
