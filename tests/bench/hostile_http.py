#!/usr/bin/env python3
"""Figures for docs/RELIABILITY.md: the dashboard's port under attack.

    HUSH_BINARY=build/hush python3 tests/bench/hostile_http.py

Starts hush (tests/web/harness.py) and measures, on loopback only and
bounded in count and time: hush's peak RSS while 4 connections each send
up to 1M header lines; /metrics latency for a normal client while 100 slow
sockets trickle headers; and how many password checks one address and 60
addresses get in one burst.
"""
import json
import os
import socket
import sys
import threading
import time
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
from harness import Hush  # noqa: E402


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def metrics_latency(port, timeout=10.0):
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
        return time.monotonic() - t0
    except OSError:
        return None


def header_flood(h):
    before = rss_mib(h.proc.pid)
    peak = [before]
    sent = []

    def one():
        n = 0
        try:
            with socket.create_connection(("127.0.0.1", h.http_port), timeout=10) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                batch = b"X-Flood: aaaaaaaaaa\r\n" * 1000
                deadline = time.monotonic() + 30
                while n < 1000000 and time.monotonic() < deadline:
                    s.sendall(batch)
                    n += 1000
        except OSError:
            pass
        sent.append(n)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], rss_mib(h.proc.pid))
        time.sleep(0.02)
    time.sleep(1)
    return {"rss_before_mib": round(before, 1), "rss_peak_mib": round(peak[0], 1),
            "rss_after_mib": round(rss_mib(h.proc.pid), 1), "header_lines_sent": sent}


def slow_sockets(h, count=100, seconds=20):
    slow = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", h.http_port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            slow.append(s)
        except OSError:
            break
    lat = []
    for i in range(seconds // 2):
        for s in slow:
            try:
                s.sendall(b"X-Slow-%d: 1\r\n" % i)
            except OSError:
                pass
        lat.append(metrics_latency(h.http_port))
        time.sleep(2)
    for s in slow:
        s.close()
    ok = [x for x in lat if x is not None]
    return {"requests": len(lat), "answered": len(ok), "max_s": round(max(ok), 3) if ok else None,
            "median_s": round(sorted(ok)[len(ok) // 2], 3) if ok else None}


def login_checks(h, sources):
    def post(src):
        conn = http.client.HTTPConnection("127.0.0.1", h.http_port, timeout=30, source_address=(src, 0))
        conn.request("POST", "/api/login", body=json.dumps({"password": "wrong"}),
                     headers={"Content-Type": "application/json"})
        st = conn.getresponse().status
        conn.close()
        return st

    results = []
    threads = [threading.Thread(target=lambda s=s: results.append(post(s))) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"attempts": len(sources), "password_checks": results.count(401), "refused_429": results.count(429)}


def main():
    out = {}
    h = Hush()
    try:
        out["header_flood"] = header_flood(h)
    finally:
        h.stop()
    h = Hush()
    try:
        out["slow_sockets_100"] = slow_sockets(h)
    finally:
        h.stop()
    h = Hush()
    try:
        out["login_one_address_30_parallel"] = login_checks(h, ["127.0.0.1"] * 30)
    finally:
        h.stop()
    h = Hush()
    try:
        out["login_60_addresses"] = login_checks(h, ["127.0.2.%d" % (i + 1) for i in range(60)])
    finally:
        h.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
