#!/usr/bin/env python3
"""Helpers for tests/bench/run.sh (standard library only).

Subcommands:
  gen     write the synthetic blocklist (every peer's format) and query files
  launch  start a server, poll it every 10 ms until it gives a blocked answer
  parse   turn one or more dnsperf -v outputs into one JSON result line
  report  turn result lines into the markdown table of docs/BENCHMARKS.md

Everything talks only to 127.0.0.0/8; every loop is bounded.
"""
import argparse
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

from loopback import wire_name

# --------------------------------------------------------------------------
# gen
# --------------------------------------------------------------------------

TLDS = (["com"] * 40 + ["net"] * 12 + ["org"] * 6 + ["io"] * 4 + ["info"] * 3 +
        ["xyz"] * 3 + ["ru", "de", "cn", "co", "biz", "top", "online", "site",
                       "club", "uk", "fr", "br", "in", "jp", "pl", "nl", "eu"])
SYL = ("ad", "ads", "trk", "track", "stat", "pix", "cdn", "srv", "media", "tag",
       "log", "count", "metric", "beacon", "click", "go", "app", "api", "web",
       "data", "img", "static", "node", "edge", "sync", "mob", "rtb", "bid",
       "ox", "zy", "qu", "ka", "lo", "mi", "ne", "ta", "ri", "vo", "xe", "bu")


def _label(rng):
    n = rng.choice((1, 2, 2, 3))
    s = "".join(rng.choice(SYL) for _ in range(n))
    r = rng.random()
    if r < 0.45:
        s += str(rng.randrange(1000))
    elif r < 0.6:
        s += "-" + rng.choice(SYL)
    return s[:40]


def gen(args):
    out = args.out
    os.makedirs(out, exist_ok=True)
    rng = random.Random(args.seed)
    names = []
    seen = set()
    while len(names) < args.domains:
        k = rng.random()
        nlab = 1 if k < 0.40 else (2 if k < 0.85 else 3)
        name = ".".join(_label(rng) for _ in range(nlab)) + "." + rng.choice(TLDS)
        if name in seen or name.endswith(".bench"):
            continue
        seen.add(name)
        names.append(name)
    del seen

    with open(os.path.join(out, "blocklist.hosts"), "w") as f:
        f.write("# hush benchmark: synthetic blocklist, %d domains, seed %d\n" %
                (len(names), args.seed))
        f.writelines("0.0.0.0 %s\n" % n for n in names)
    with open(os.path.join(out, "blocklist.domains"), "w") as f:
        f.writelines("%s\n" % n for n in names)
    with open(os.path.join(out, "blocklist.dnsmasq.conf"), "w") as f:
        f.writelines("address=/%s/0.0.0.0\n" % n for n in names)
    with open(os.path.join(out, "blocklist.unbound.conf"), "w") as f:
        f.write("server:\n")
        f.writelines('local-zone: "%s." always_nxdomain\n' % n for n in names)

    # Blocked mix: a deterministic sample of a tenth of the list (at most
    # --blocked-queries), in random order, repeated.
    sample = rng.sample(names, min(args.blocked_queries, max(1, len(names) // 10)))
    with open(os.path.join(out, "q-blocked.txt"), "w") as f:
        f.writelines("%s A\n" % n for n in sample)
    # Name the poller asks for: the last one in the file, so a server that
    # answers it has loaded the whole list.
    with open(os.path.join(out, "probe-name"), "w") as f:
        f.write(names[-1] + "\n")
    # Distinct blocked mix: the whole list in another random order, so a
    # name comes back only after every other one (at full rate over 1M
    # names, most are asked once a run): the log meets new names all along.
    distinct = list(names)
    rng.shuffle(distinct)
    with open(os.path.join(out, "q-distinct.txt"), "w") as f:
        f.writelines("%s A\n" % n for n in distinct)
    del distinct
    # Cache-hit mix: a small set under bench., repeated.
    with open(os.path.join(out, "q-hit.txt"), "w") as f:
        f.writelines("hit%03d.bench A\n" % i for i in range(args.hit_names))
    # Cache-miss mix: unique names under bench.; used with dnsperf -n 1 so no
    # name is asked twice in a run, and one file per repetition so no name is
    # asked twice of the same server.
    tag = "%08x" % rng.getrandbits(32)
    for r in range(1, args.miss_files + 1):
        with open(os.path.join(out, "q-miss-%d.txt" % r), "w") as f:
            f.writelines("m%07d-%d-%s.bench A\n" % (i, r, tag) for i in range(args.miss_queries))
    # Random-subdomain flood: unique random-looking labels under one parent.
    # Multiplying the index by an odd constant modulo 2^40 is a bijection, so
    # the labels never repeat.
    with open(os.path.join(out, "q-flood.txt"), "w") as f:
        f.writelines("%010x.flood-%s.bench A\n" % ((i * 0x9E3779B97F4A7C15) & (2 ** 40 - 1), tag)
                     for i in range(args.flood_queries))
    print("gen: %d domains, %d blocked / %d distinct / %d hit / %d x %d miss / %d flood queries in %s" %
          (len(names), len(sample), len(names), args.hit_names, args.miss_files, args.miss_queries,
           args.flood_queries, out))


# --------------------------------------------------------------------------
# launch: start a server and time its first blocked answer
# --------------------------------------------------------------------------

def _query(qid, name):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire_name(name) + struct.pack(">HH", 1, 1)


def _skip_name(p, i):
    while i < len(p):
        l = p[i]
        if l == 0:
            return i + 1
        if l & 0xC0 == 0xC0:
            return i + 2
        i += l + 1
    return i


def classify(resp):
    """'blocked' (NXDOMAIN, NODATA or an A of 0.0.0.0), 'answer', or 'fail'."""
    if len(resp) < 12:
        return "fail"
    rcode = resp[3] & 0x0F
    if rcode == 3:
        return "blocked"
    if rcode != 0:
        return "fail"
    qd, an = struct.unpack(">HH", resp[4:8])
    i = 12
    for _ in range(qd):
        i = _skip_name(resp, i) + 4
    if an == 0:
        return "blocked"
    for _ in range(an):
        i = _skip_name(resp, i)
        if i + 10 > len(resp):
            return "fail"
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", resp[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4 and resp[i:i + 4] == b"\0\0\0\0":
            return "blocked"
        i += rdlen
    return "answer"


def launch(args):
    host = args.host
    if not host.startswith("127."):
        sys.exit("launch: only 127.0.0.0/8")
    log = open(args.log, "ab")

    def boost():
        # The server gets a session, so an autogroup, of its own; with
        # autogroups on, plain nice means nothing against other sessions.
        if args.autogroup_nice is not None:
            try:
                with open("/proc/self/autogroup", "w") as f:
                    f.write("%d" % args.autogroup_nice)
            except OSError:
                pass

    t0 = time.monotonic()
    proc = subprocess.Popen(args.command, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=boost)
    with open(args.pidfile, "w") as f:
        f.write("%d\n" % proc.pid)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.01)
    deadline = t0 + args.timeout
    qid = 0
    first_any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(json.dumps({"ok": False, "error": "exited with %d" % proc.returncode}))
            return 1
        tick = time.monotonic()
        qid = (qid + 1) & 0xFFFF
        try:
            s.sendto(_query(qid, args.name), (host, args.port))
            while True:
                resp = s.recv(4096)
                if len(resp) >= 2 and struct.unpack(">H", resp[:2])[0] == qid:
                    break
            kind = classify(resp)
            now = time.monotonic()
            if first_any is None:
                first_any = now - t0
            if kind == "blocked" or args.any:
                print(json.dumps({"ok": True, "pid": proc.pid,
                                  "first_answer_s": round(first_any, 3),
                                  "first_blocked_s": round(now - t0, 3), "kind": kind}))
                return 0
        except (socket.timeout, ConnectionRefusedError, OSError):
            pass
        rest = 0.01 - (time.monotonic() - tick)
        if rest > 0:
            time.sleep(rest)
    print(json.dumps({"ok": False, "pid": proc.pid, "error": "no blocked answer in %ds" % args.timeout,
                      "first_answer_s": first_any}))
    return 1


# --------------------------------------------------------------------------
# parse: dnsperf -v outputs -> one JSON line
# --------------------------------------------------------------------------

def _summary(text, key):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(key):
            return line[len(key):].strip()
    return None


def parse(args):
    sent = completed = lost = 0
    qps = 0.0
    lat = []
    rcodes = {}
    runtime = 0.0
    for path in args.files:
        with open(path, errors="replace") as f:
            text = f.read()
        for line in text.splitlines():
            if line.startswith("> "):
                parts = line.split()
                if len(parts) >= 5 and parts[1] not in ("T", "I"):
                    rcodes[parts[1]] = rcodes.get(parts[1], 0) + 1
                    try:
                        lat.append(float(parts[-1]))
                    except ValueError:
                        pass
        v = _summary(text, "Queries sent:")
        sent += int(v.split()[0]) if v else 0
        v = _summary(text, "Queries completed:")
        completed += int(v.split()[0]) if v else 0
        v = _summary(text, "Queries lost:")
        lost += int(v.split()[0]) if v else 0
        v = _summary(text, "Queries per second:")
        qps += float(v) if v else 0.0
        v = _summary(text, "Run time (s):")
        runtime = max(runtime, float(v) if v else 0.0)
    lat.sort()
    n = len(lat)
    res = {"sent": sent, "completed": completed, "lost": lost, "qps": round(qps, 1),
           "runtime_s": runtime, "rcodes": rcodes}
    if n:
        res["lat_mean_ms"] = round(sum(lat) / n * 1000, 3)
        res["lat_p50_ms"] = round(lat[n // 2] * 1000, 3)
        res["lat_p99_ms"] = round(lat[min(n - 1, int(n * 0.99))] * 1000, 3)
        res["lat_max_ms"] = round(lat[-1] * 1000, 3)
    if args.cpu_ticks is not None and completed:
        hz = os.sysconf("SC_CLK_TCK")
        res["cpu_s"] = round(args.cpu_ticks / hz, 2)
        res["cpu_us_per_q"] = round(args.cpu_ticks / hz * 1e6 / completed, 2)
    if args.rss:
        # VmRSS in KiB, one sample a second from the start of the load to its
        # end (the last one taken after dnsperf finished).
        kib = []
        with open(args.rss) as f:
            for line in f:
                try:
                    kib.append(int(line.split()[0]))
                except (ValueError, IndexError):
                    pass
        if kib:
            res["rss_first_mib"] = round(kib[0] / 1024, 1)
            res["rss_max_mib"] = round(max(kib) / 1024, 1)
            res["rss_final_mib"] = round(kib[-1] / 1024, 1)
            res["rss_samples"] = len(kib)
    for kv in args.set or []:
        k, v = kv.split("=", 1)
        try:
            v = json.loads(v)
        except ValueError:
            pass
        res[k] = v
    print(json.dumps(res, sort_keys=True))


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

MIXES = ("blocked", "distinct", "hit", "miss")
MIX_TITLE = {"blocked": "all blocked", "distinct": "blocked, distinct names", "hit": "cache hits",
             "miss": "cache misses", "flood": "random-subdomain flood"}
PEERS = ("dnsmasq", "dnsmasq-addr", "unbound", "dnsdist")


def _fmt(v, spec, na="n/a"):
    if v is None:
        return na
    return format(v, spec)


def _ratio(h, best, higher_is_better):
    if h is None or best is None or best == 0 or h == 0:
        return "n/a"
    r = h / best if higher_is_better else best / h
    return "%.2f×" % r


def _best(rows):
    """Collapse repetitions: per (mode, server, mix, threads) keep the rep with
    the highest QPS, and remember every rep's QPS and the interference."""
    groups = {}
    order = []
    for r in rows:
        k = (r.get("mode"), r.get("server"), r.get("mix"), r.get("threads", 1))
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(r)
    out = []
    for k in order:
        g = groups[k]
        measured = [r for r in g if not r.get("na")]
        if not measured:
            out.append(g[0])
            continue
        best = dict(max(measured, key=lambda r: r.get("qps") or 0))
        best["all_qps"] = [r.get("qps") for r in measured]
        # Memory is not the best rep's but the highest any rep reached, and
        # the last rep's end.
        peaks = [r["rss_max_mib"] for r in measured if r.get("rss_max_mib") is not None]
        if peaks:
            best["rss_max_mib"] = max(peaks)
            best["rss_final_mib"] = max(measured, key=lambda r: r.get("rep") or 0).get("rss_final_mib")
        best["nreps"] = len(measured)
        out.append(best)
    return out


def _qps_cell(r):
    s = _fmt(r.get("qps"), ",.0f")
    allq = r.get("all_qps") or []
    if len(allq) > 1:
        lo = min(allq)
        s += " (%+.0f%%)" % ((lo - r["qps"]) / r["qps"] * 100 if r["qps"] else 0)
    return s


def report(args):
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    meta = json.load(open(args.meta))
    single = _best([r for r in rows if r.get("mode") == "single"])
    scale = _best([r for r in rows if r.get("mode") == "scale"])
    servers = [r for r in meta.get("servers", [])]
    reps = int(meta.get("reps", 1))
    out = []
    w = out.append
    w("## Results: %s\n" % meta.get("title", "full run"))
    w("- Date: %s" % meta["date"])
    w("- Machine: %s cores (`nproc`), CPU %s, kernel %s, %s GiB RAM" %
      (meta["nproc"], meta["cpu"], meta["kernel"], meta["mem_gib"]))
    w("- Versions: %s" % ", ".join("%s %s" % (k, v) for k, v in meta["versions"].items()))
    w("- Blocklist: %s synthetic domains (seed %s); %s s per dnsperf run, `-c %s -q %s`, no `-Q` (max rate)" %
      (meta["domains"], meta["seed"], meta["duration"], meta["clients"], meta["outstanding"]))
    w("- Pinning: server on core 0, dnsperf and the shared upstream (unbound) on core 1")
    if reps > 1:
        w("- Each load ran %d times (interleaved); each row is the run with the highest QPS, "
          "the bracket after QPS is how much lower the worst run was" % reps)
    w("- *others %*: CPU used by processes other than the server, dnsperf and the upstream "
      "during that run, as a share of the whole machine (the machine is shared; above a few "
      "% the row is disturbed)")
    w("- Run took %s s (`tests/bench/run.sh %s`)\n" % (meta.get("elapsed_s", "?"), meta.get("argv", "")))

    w("| server | mix | QPS | mean ms | p99 ms | lost | CPU µs/answer | RSS MiB at start | RSS MiB max / end | first blocked s | others % | answers |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    by = {(r["server"], r["mix"]): r for r in single}
    startup = {r["server"]: r for r in rows if r.get("mode") == "startup"}
    mixes = [m for m in MIXES if any(r.get("mix") == m for r in single)]
    for srv in servers:
        for mix in mixes:
            r = by.get((srv, mix))
            st = startup.get(srv, {})
            if srv == "floor" or st.get("kind") != "blocked":
                fb_s = "%s (any answer)" % _fmt(st.get("first_answer_s"), ".2f")
            else:
                fb_s = _fmt(st.get("first_blocked_s"), ".2f")
            if r is None or r.get("na"):
                why = (r or {}).get("na") or st.get("error") or "not run"
                w("| %s | %s | n/a | n/a | n/a | n/a | n/a | %s | n/a | %s | | %s |" %
                  (srv, MIX_TITLE[mix], _fmt(st.get("rss_mib"), ".0f"),
                   fb_s if st else "n/a", why))
                continue
            rc = r.get("rcodes", {})
            tot = sum(rc.values()) or 1
            ans = ", ".join("%s %.0f%%" % (k, 100.0 * v / tot)
                            for k, v in sorted(rc.items(), key=lambda kv: -kv[1]))
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s |" %
              (srv, MIX_TITLE[mix], _qps_cell(r),
               _fmt(r.get("lat_mean_ms"), ".3f"), _fmt(r.get("lat_p99_ms"), ".3f"),
               r.get("lost", "n/a"), _fmt(r.get("cpu_us_per_q"), ".2f"),
               _fmt(st.get("rss_mib"), ".0f"), _fmt(r.get("rss_max_mib"), ".0f"),
               _fmt(r.get("rss_final_mib"), ".0f"), fb_s, _fmt(r.get("others_pct"), ".1f"), ans))

    floods = {r["server"]: r for r in single if r.get("mix") == "flood"}
    highest, hwm = {}, {}
    for srv in servers:
        seen = [startup.get(srv, {}).get("rss_mib")]
        seen += [r.get("rss_max_mib") for r in single if r.get("server") == srv]
        seen += [r.get("rss_after_max_mib") for r in single if r.get("server") == srv]
        # VmHWM: the kernel's high-water mark since exec, start-up included
        hwms = [startup.get(srv, {}).get("hwm_mib")] + [r.get("hwm_mib") for r in rows if r.get("server") == srv]
        hwms = [v for v in hwms if v is not None]
        hwm[srv] = max(hwms) if hwms else None
        seen = [v for v in seen + hwms if v is not None]
        highest[srv] = max(seen) if seen else None
    if floods:
        f0 = next(iter(floods.values()))
        w("\n### Random-subdomain flood\n")
        w("%s unique names under one parent (`<random>.flood-TAG.bench`), each asked once (`-n 1`), "
          "at full rate for at most %s s, after the loads above on the same server; every name is a "
          "miss forwarded to the upstream.  RSS sampled every second during the flood and for %s s "
          "after it (*after*: the last of those samples, *highest after*: the largest).\n" %
          (format(int(f0.get("flood_names") or 0), ","), f0.get("flood_s", "?"), f0.get("after_s", "?")))
        if any(r.get("log_cap_mib") for r in floods.values()):
            w("hush ran with `querylog.max_size_mib` = %s.\n" %
              next(r["log_cap_mib"] for r in floods.values() if r.get("log_cap_mib")))
        w("| server | names asked | QPS | lost | CPU µs/answer | RSS MiB before | peak | end | after | highest after | hush.db + WAL MiB end / max |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for srv in servers:
            r = floods.get(srv)
            if r is None:
                continue
            if r.get("na"):
                w("| %s | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | %s |" % (srv, r["na"]))
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" %
              (srv, _fmt(r.get("sent"), ","), _fmt(r.get("qps"), ",.0f"), r.get("lost", "n/a"),
               _fmt(r.get("cpu_us_per_q"), ".2f"), _fmt(r.get("rss_first_mib"), ".0f"),
               _fmt(r.get("rss_max_mib"), ".0f"), _fmt(r.get("rss_final_mib"), ".0f"),
               _fmt(r.get("rss_after_mib"), ".0f"), _fmt(r.get("rss_after_max_mib"), ".0f"),
               _fmt(r.get("db_mib"), ".0f", "") +
               ("" if r.get("db_max_mib") is None else " / " + _fmt(r.get("db_max_mib"), ".0f"))))

    w("\n### Memory: the highest RSS seen\n")
    w("VmRSS sampled every second during each load; per mix the highest sample over its "
      "repetitions.  *VmHWM* is the kernel's high-water mark at the end of the last load "
      "(start-up included: compiling a list from text peaks there).  *Highest* is the largest "
      "of all of them, the figure to compare.\n")
    cols = mixes + (["flood"] if floods else [])
    w("| server | at start | %s | VmHWM | highest |" % " | ".join(MIX_TITLE[m] for m in cols))
    w("|---|---:|%s---:|---:|" % ("---:|" * len(cols)))
    for srv in servers:
        cells = [_fmt(startup.get(srv, {}).get("rss_mib"), ".0f")]
        for m in cols:
            r = by.get((srv, m)) or {}
            cells.append(_fmt(r.get("rss_max_mib"), ".0f"))
        cells.append(_fmt(hwm.get(srv), ".0f"))
        w("| %s | %s | **%s** |" % (srv, " | ".join(cells), _fmt(highest.get(srv), ".0f")))

    # hush against the best peer.
    w("\n### hush against the best peer\n")
    w("hush's figure divided by the best peer's (inverted where lower is better), so > 1× "
      "always means hush is better.\n")
    w("| hush | mix | QPS | mean latency | p99 latency | CPU/answer | highest RSS | first blocked |")
    w("|---|---|---|---|---|---|---|---|")
    dagger = [False]
    variants = [v for v in ("hush", "hush-nolog") if v in servers] or ["hush"]
    for variant, mix in [(v, m) for v in variants for m in mixes]:
        hush_st = startup.get(variant, {})
        h = by.get((variant, mix))
        cells = []
        for key, hib in (("qps", True), ("lat_mean_ms", False), ("lat_p99_ms", False),
                         ("cpu_us_per_q", False)):
            hv = h.get(key) if h and not h.get("na") else None
            cands = [(by[(p, mix)].get(key), p) for p in PEERS
                     if (p, mix) in by and not by[(p, mix)].get("na") and by[(p, mix)].get(key)]
            if not cands:
                cells.append("n/a")
                continue
            best = max(cands) if hib else min(cands)
            mark = ""
            if key != "cpu_us_per_q" and hv is not None and max(
                    h.get("others_pct") or 0, by[(best[1], mix)].get("others_pct") or 0) > 10:
                mark = " †"
                dagger[0] = True
            cells.append("%s (vs %s)%s" % (_ratio(hv, best[0], hib), best[1], mark))
        for key in ("rss_mib", "first_blocked_s"):
            # without its list loaded hush's memory and start-up say nothing;
            # memory is the highest each server showed in the run
            def value(srv):
                if key == "rss_mib":
                    return highest.get(srv)
                return startup.get(srv, {}).get(key)
            hv = value(variant) if hush_st.get("kind") == "blocked" else None
            cands = [(value(p), p) for p in PEERS if p in startup and value(p)]
            if not cands:
                cells.append("n/a")
                continue
            best = min(cands)
            cells.append("%s (vs %s)" % (_ratio(hv, best[0], False), best[1]))
        w("| %s | %s | %s |" % (variant, MIX_TITLE[mix], " | ".join(cells)))
    if dagger[0]:
        w("\n† hush's row or the peer's ran while other processes used more than 10% of the "
          "machine: QPS and latency there are disturbed (latency most), CPU/answer much less.")

    rs = [r for r in rows if r.get("mode") == "restart"]
    hush_st = startup.get("hush", {})
    if rs:
        r = rs[0]
        w("\n### hush restart\n")
        if r.get("ok"):
            w("Stopped and started again with the same `--data-dir` (and so any compiled "
              "list it saved): first blocked answer after **%s s** (cold start: %s s), "
              "RSS %s MiB." % (_fmt(r.get("first_blocked_s"), ".2f"),
                               _fmt(hush_st.get("first_blocked_s"), ".2f"),
                               _fmt(r.get("rss_mib"), ".0f")))
        else:
            w("The second start with the same `--data-dir` failed: %s." % r.get("error"))

    if scale:
        w("\n### Scaling: two dnsperf processes, everything on both cores\n")
        w("Server and both dnsperf processes share the machine's 2 cores (no pinning), so this "
          "shows contention as much as scaling.\n")
        w("| server | threads | mix | QPS | mean ms | p99 ms | lost | CPU µs/answer | others % |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in scale:
            if r.get("na"):
                w("| %s | %s | %s | n/a | n/a | n/a | n/a | n/a | |" %
                  (r["server"], r.get("threads"), MIX_TITLE[r["mix"]]))
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" %
              (r["server"], r.get("threads"), MIX_TITLE[r["mix"]], _qps_cell(r),
               _fmt(r.get("lat_mean_ms"), ".3f"), _fmt(r.get("lat_p99_ms"), ".3f"),
               r.get("lost"), _fmt(r.get("cpu_us_per_q"), ".2f"), _fmt(r.get("others_pct"), ".1f")))
    notes = meta.get("notes") or []
    if notes:
        w("\n### Notes from this run\n")
        for n in notes:
            w("- %s" % n)
    text = "\n".join(out) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--out", required=True)
    g.add_argument("--domains", type=int, default=1000000)
    g.add_argument("--seed", type=int, default=20241121)
    g.add_argument("--blocked-queries", type=int, default=100000)
    g.add_argument("--hit-names", type=int, default=64)
    g.add_argument("--miss-queries", type=int, default=2000000)
    g.add_argument("--miss-files", type=int, default=1)
    g.add_argument("--flood-queries", type=int, default=5000000)
    g.set_defaults(fn=gen)
    l = sub.add_parser("launch")
    l.add_argument("--host", default="127.0.0.1")
    l.add_argument("--port", type=int, required=True)
    l.add_argument("--name", required=True)
    l.add_argument("--any", action="store_true", help="any answer counts (floor)")
    l.add_argument("--timeout", type=int, default=120)
    l.add_argument("--autogroup-nice", type=int)
    l.add_argument("--pidfile", required=True)
    l.add_argument("--log", required=True)
    l.add_argument("command", nargs=argparse.REMAINDER)
    l.set_defaults(fn=launch)
    p = sub.add_parser("parse")
    p.add_argument("--cpu-ticks", type=int)
    p.add_argument("--set", action="append")
    p.add_argument("--rss", help="file of VmRSS samples (KiB), one a line")
    p.add_argument("files", nargs="+")
    p.set_defaults(fn=parse)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--meta", required=True)
    r.add_argument("--output")
    r.set_defaults(fn=report)
    args = ap.parse_args()
    if args.fn is launch and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    sys.exit(args.fn(args) or 0)


if __name__ == "__main__":
    main()
