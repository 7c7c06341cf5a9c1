#!/usr/bin/env python3
"""Stale answers during an upstream outage (not a test; standard library only).

Starts an in-process upstream on 127.0.0.1 that answers every name with one A
record (TTL --ttl), starts hush forwarding to it, and sends --qps queries a
second over Zipf-drawn names: --warm seconds with the upstream up, --outage
seconds with it silent (it reads and never answers, the harder case for a
client: no ICMP error ends hush's attempts early), then --recover seconds up
again. Each answer is counted as fresh (NOERROR without EDE), stale (EDE 3),
SERVFAIL, other, or lost (no answer within 5 s), per phase.

  tests/bench/stale_outage.py --hush build/hush [--stale-max 86400]

Run it twice, with the default stale_max and with --stale-max 0 (the old
behaviour), to compare. Everything is on 127.0.0.1; every loop is bounded.
"""
import argparse
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from loopback import free_port, wire_name


def question_end(msg):
    i = 12
    while i < len(msg) and msg[i]:
        i += msg[i] + 1
    return i + 5


class Upstream(threading.Thread):
    """Answers every A question with 192.0.2.1, TTL `ttl`, unless silent."""

    def __init__(self, ttl):
        super().__init__(daemon=True)
        self.ttl = ttl
        self.silent = False
        self.stop = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)

    def run(self):
        while not self.stop:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            if self.silent or len(msg) < 12:
                continue
            end = question_end(msg)
            flags = 0x8180 | (struct.unpack(">H", msg[2:4])[0] & 0x0100)
            head = msg[:2] + struct.pack(">HHHHH", flags, 1, 1, 0, 0)
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, self.ttl, 4) + bytes([192, 0, 2, 1])
            self.sock.sendto(head + msg[12:end] + answer, peer)


def query(qid, name):
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1) + wire_name(name) + struct.pack(">HH", 1, 1) + opt


def skip_name(msg, i):
    while i < len(msg):
        if msg[i] == 0:
            return i + 1
        if msg[i] & 0xC0 == 0xC0:
            return i + 2
        i += msg[i] + 1
    return len(msg)


def ede_codes(resp):
    """The EDE info-codes in the OPT record of `resp`."""
    qd, an, ns, ar = struct.unpack(">HHHH", resp[4:12])
    i = question_end(resp)
    codes = []
    for n in range(an + ns + ar):
        i = skip_name(resp, i)
        if i + 10 > len(resp):
            break
        rtype, _, _, rdlen = struct.unpack(">HHIH", resp[i:i + 10])
        i += 10
        if rtype == 41 and n >= an + ns:
            j = i
            while j + 4 <= i + rdlen:
                code, olen = struct.unpack(">HH", resp[j:j + 4])
                if code == 15 and olen >= 2:
                    codes.append(struct.unpack(">H", resp[j + 4:j + 6])[0])
                j += 4 + olen
        i += rdlen
    return codes


def classify(resp):
    rcode = struct.unpack(">H", resp[2:4])[0] & 0xF
    if rcode == 2:
        return "servfail"
    if rcode != 0:
        return "other"
    return "stale" if 3 in ede_codes(resp) else "fresh"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hush", required=True)
    ap.add_argument("--qps", type=int, default=1000)
    ap.add_argument("--names", type=int, default=5000)
    ap.add_argument("--ttl", type=int, default=5)
    ap.add_argument("--warm", type=int, default=15)
    ap.add_argument("--outage", type=int, default=60)
    ap.add_argument("--recover", type=int, default=10)
    ap.add_argument("--stale-max", type=int, default=86400)
    args = ap.parse_args()

    up = Upstream(args.ttl)
    up.start()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="hush-stale-bench-")
    conf = os.path.join(tmp, "hush.toml")
    with open(conf, "w") as f:
        f.write('[server]\nlisten = ["127.0.0.1:%d"]\ndata_dir = "%s"\nthreads = 2\n'
                '[upstream]\nservers = ["127.0.0.1:%d"]\n[http]\nlisten = ""\n'
                '[cache]\nstale_max = %d\n[querylog]\nenabled = false\n'
                % (port, os.path.join(tmp, "data"), up.port, args.stale_max))
    log = open(os.path.join(tmp, "hush.log"), "wb")
    proc = subprocess.Popen([args.hush, "serve", "--config", conf], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Answers held back by an outage arrive in bursts; the default buffer
    # (a few hundred datagrams) would lose some and count them as lost.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    try:
        # Poll until hush answers (bounded).
        s.settimeout(0.05)
        for i in range(600):
            s.sendto(query(i, "ready.example"), ("127.0.0.1", port))
            try:
                s.recv(4096)
                break
            except socket.timeout:
                if proc.poll() is not None:
                    sys.exit("hush exited: see " + log.name)
        else:
            sys.exit("hush did not answer within 30 s")

        weights = [1.0 / (i + 1) for i in range(args.names)]
        rng = random.Random(1)
        phases = [("warm", args.warm), ("outage", args.outage), ("recover", args.recover)]
        counts = {p: {"sent": 0, "fresh": 0, "stale": 0, "servfail": 0, "other": 0, "lost": 0} for p, _ in phases}
        sent = {}  # id -> (phase, time)
        latency = {}  # "phase kind" -> seconds from query to answer
        s.setblocking(False)
        t0 = time.monotonic()
        bounds = []
        acc = 0
        for p, d in phases:
            acc += d
            bounds.append((acc, p))
        total = acc
        n = 0
        names = rng.choices(range(args.names), weights=weights, k=args.qps * total)

        def receive(until):
            while True:
                wait = until - time.monotonic()
                r, _, _ = select.select([s], [], [], max(0.0, wait))
                if not r:
                    return
                while True:
                    try:
                        resp = s.recv(4096)
                    except BlockingIOError:
                        break
                    qid = struct.unpack(">H", resp[:2])[0]
                    if qid in sent:
                        phase, at = sent.pop(qid)
                        kind = classify(resp)
                        counts[phase][kind] += 1
                        latency.setdefault(phase + " " + kind, []).append(time.monotonic() - t0 - at)

        while n < len(names):
            now = time.monotonic() - t0
            due = n / args.qps
            if due > now:
                receive(t0 + due)
                continue
            phase = next(p for b, p in bounds if due < b)
            up.silent = phase == "outage"
            qid = n & 0xFFFF
            if qid in sent:  # unanswered for 65536 queries: lost
                old_phase, _ = sent.pop(qid)
                counts[old_phase]["lost"] += 1
            s.sendto(query(qid, "n%d.example" % names[n]), ("127.0.0.1", port))
            sent[qid] = (phase, now)
            counts[phase]["sent"] += 1
            n += 1
        receive(time.monotonic() + 5)
        for phase, _ in sent.values():
            counts[phase]["lost"] += 1
        def pct(v, p):
            v = sorted(v)
            return round(1000 * v[min(len(v) - 1, int(p * len(v)))], 1)
        ms = {k: {"p50": pct(v, 0.5), "p99": pct(v, 0.99)} for k, v in sorted(latency.items())}
        print(json.dumps({"stale_max": args.stale_max, "qps": args.qps, "names": args.names, "ttl": args.ttl,
                          "elapsed_s": round(time.monotonic() - t0, 1), "phases": counts, "latency_ms": ms}))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        up.stop = True


if __name__ == "__main__":
    main()
