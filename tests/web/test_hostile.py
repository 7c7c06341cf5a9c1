"""The HTTP server against hostile clients, before any login: header floods,
slow sockets, password guessing, cross-site posts and DNS rebinding. Loopback only; every loop is bounded in count and time.

Run: HUSH_BINARY=build/hush python3 -m unittest -v tests/web/test_hostile.py
"""
import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Hush  # noqa: E402

# What hush may use while attacked, over what it used before (MiB). The
# server keeps at most 16 KiB of head per connection.
RSS_GROWTH_LIMIT_MIB = 48


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def get_metrics(port, timeout=5.0):
    """Seconds one GET /metrics took, or raises."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:100]
    return time.monotonic() - t0


class HttpLimitsTest(unittest.TestCase):
    def setUp(self):
        self.h = Hush()
        self.addCleanup(self.h.stop)

    def test_header_flood_is_cut_off_and_memory_stays_bounded(self):
        before = rss_mib(self.h.proc.pid)
        peak = before
        results = []

        def flood():
            # Up to 200,000 header lines (about 4 MiB), stopped by the server.
            sent = 0
            try:
                with socket.create_connection(("127.0.0.1", self.h.http_port), timeout=10) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    line = b"X-Flood: " + b"a" * 10 + b"\r\n"
                    batch = line * 500
                    deadline = time.monotonic() + 20
                    while sent < 200000 and time.monotonic() < deadline:
                        s.sendall(batch)
                        sent += 500
                    results.append(("not cut off", sent))
            except OSError:
                results.append(("cut off", sent))

        threads = [threading.Thread(target=flood) for _ in range(4)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mib(self.h.proc.pid))
            time.sleep(0.02)
        for t in threads:
            t.join()
        after = rss_mib(self.h.proc.pid)
        for outcome, sent in results:
            self.assertEqual(outcome, "cut off", "the server read %d header lines" % sent)
            self.assertLess(sent, 200000)
        self.assertLess(peak - before, RSS_GROWTH_LIMIT_MIB, "peak %.1f MiB, before %.1f" % (peak, before))
        self.assertLess(after - before, RSS_GROWTH_LIMIT_MIB)
        # The refusal is an answer, not silence.
        with socket.create_connection(("127.0.0.1", self.h.http_port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 150 + b"\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 431"))
        self.assertLess(get_metrics(self.h.http_port), 2.0)

    def test_slow_sockets_do_not_take_the_dashboard(self):
        # 100 clients that send one header line every second and never finish.
        slow = []
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", self.h.http_port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            slow.append(s)
        latencies = []
        try:
            for round_ in range(6):
                for s in slow:
                    try:
                        s.sendall(b"X-Slow-%d: 1\r\n" % round_)
                    except OSError:
                        pass
                latencies.append(get_metrics(self.h.http_port, timeout=5))
                time.sleep(1)
        finally:
            for s in slow:
                s.close()
        self.assertEqual(len(latencies), 6)
        self.assertLess(max(latencies), 2.0, latencies)

    def test_a_request_that_never_ends_is_closed(self):
        s = socket.create_connection(("127.0.0.1", self.h.http_port), timeout=20)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        t0 = time.monotonic()
        data = b""
        try:
            while time.monotonic() - t0 < 18:
                s.sendall(b"X-Trickle: 1\r\n")
                s.settimeout(1)
                try:
                    chunk = s.recv(1000)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        finally:
            s.close()
        # The whole request had 10 s; it is answered 408 and closed.
        self.assertLess(time.monotonic() - t0, 18)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:100])

    def test_connection_slots_are_reclaimed_from_the_slowest(self):
        # More half-sent requests than there are slots (256): the newest
        # client still gets its answer, taking the oldest unfinished one's slot.
        held = []
        try:
            for _ in range(300):
                s = socket.create_connection(("127.0.0.1", self.h.http_port), timeout=5)
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                held.append(s)
            self.assertLess(get_metrics(self.h.http_port), 2.0)
        finally:
            for s in held:
                s.close()


def post_login(port, password, content_type="application/json", source="127.0.0.1", headers=None):
    """The status of one POST /api/login."""
    body = json.dumps({"password": password}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    h = {"Content-Type": content_type}
    h.update(headers or {})
    conn.request("POST", "/api/login", body=body, headers=h)
    status = conn.getresponse().status
    conn.close()
    return status


class LoginTest(unittest.TestCase):
    def setUp(self):
        self.h = Hush()
        self.addCleanup(self.h.stop)

    def test_parallel_guesses_get_five_checks(self):
        with ThreadPoolExecutor(30) as pool:
            statuses = list(pool.map(lambda _: post_login(self.h.http_port, "wrong"), range(30)))
        self.assertEqual(statuses.count(401), 5, statuses)
        self.assertEqual(statuses.count(429), 25, statuses)

    def test_many_addresses_share_twenty_checks_a_minute(self):
        statuses = [post_login(self.h.http_port, "wrong", source="127.0.1.%d" % (i + 1)) for i in range(40)]
        self.assertEqual(statuses.count(401), 20, statuses)
        self.assertEqual(statuses.count(429), 20, statuses)

    def test_cross_site_posts_are_refused_before_they_count(self):
        for _ in range(10):
            self.assertEqual(post_login(self.h.http_port, self.h.password, content_type="text/plain"), 415)
        self.assertEqual(post_login(self.h.http_port, "wrong", headers={"Origin": "http://evil.example"}), 403)
        self.assertEqual(post_login(self.h.http_port, "wrong", headers={"Sec-Fetch-Site": "cross-site"}), 403)
        # None of those spent an attempt: the right password still works.
        self.assertEqual(post_login(self.h.http_port, self.h.password), 200)

    def test_rebinding_host_names_reach_nothing(self):
        for path in ("/metrics", "/", "/api/session"):
            conn = http.client.HTTPConnection("127.0.0.1", self.h.http_port, timeout=10)
            conn.request("GET", path, headers={"Host": "rebind.evil.example:%d" % self.h.http_port})
            self.assertEqual(conn.getresponse().status, 403, path)
            conn.close()
        self.assertEqual(post_login(self.h.http_port, self.h.password, headers={"Host": "rebind.evil.example"}), 403)
        conn = http.client.HTTPConnection("127.0.0.1", self.h.http_port, timeout=10)
        conn.request("GET", "/metrics", headers={"Host": "localhost:%d" % self.h.http_port})
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()


if __name__ == "__main__":
    unittest.main()
