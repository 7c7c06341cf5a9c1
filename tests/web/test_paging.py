"""No answer of the API grows with the number of devices: 1,200 devices (one
query each from its own 127.1.x.y address), then every list endpoint.

Run: HUSH_BINARY=build/hush python3 -m unittest -v tests/web/test_paging.py
"""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Hush, build_query, wait_until  # noqa: E402

DEVICES = 1200


def sources():
    for i in range(DEVICES):
        yield "127.1.%d.%d" % (i // 200, 1 + i % 200)


class PagingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Hush()
        cls.c = cls.h.client()
        assert cls.c.login(cls.h.password).status == 200
        # One query from each address; the answers are read back so that
        # every query has been answered (and so logged) before the checks.
        for src in sources():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((src, 0))
                s.settimeout(3)
                s.sendto(build_query("page.test"), ("127.0.0.1", cls.h.dns_port))
                s.recvfrom(4096)
        wait_until(lambda: cls.c.get("/api/devices?limit=1").json()["total"] >= DEVICES, timeout=30,
                   what="the devices logged")

    @classmethod
    def tearDownClass(cls):
        cls.h.stop()

    def page(self, query=""):
        r = self.c.get("/api/devices" + query)
        self.assertEqual(r.status, 200, r.body)
        return r

    def walk(self, limit):
        ids, after, pages = [], None, 0
        while True:
            r = self.page("?limit=%d" % limit + ("&after=" + after if after else "")).json()
            self.assertLessEqual(len(r["devices"]), limit)
            ids += [d["id"] for d in r["devices"]]
            pages += 1
            after = r["next"]
            if after is None:
                return ids, pages
            self.assertEqual(len(r["devices"]), limit)  # only the last page is short
            self.assertLess(pages, 1000)

    def test_default_and_largest_page(self):
        first = self.page()
        j = first.json()
        self.assertEqual(len(j["devices"]), 100)
        self.assertGreaterEqual(j["total"], DEVICES)
        self.assertIsInstance(j["next"], str)
        self.assertLess(len(first.body), 64 * 1024)
        for key in ("id", "name", "addresses", "groups", "queries", "blocked", "last_seen_ms"):
            self.assertIn(key, j["devices"][0])
        # Most recently seen first.
        seen = [d["last_seen_ms"] for d in j["devices"]]
        self.assertEqual(seen, sorted(seen, reverse=True))
        largest = self.page("?limit=500")
        self.assertEqual(len(largest.json()["devices"]), 500)
        self.assertLess(len(largest.body), 300 * 1024)

    def test_paging_visits_every_device_once(self):
        total = self.page("?limit=1").json()["total"]
        for limit in (100, 500, 7):
            ids, pages = self.walk(limit)
            self.assertEqual(len(ids), len(set(ids)), "a device listed twice with limit %d" % limit)
            self.assertEqual(len(ids), total)
            self.assertEqual(pages, -(-total // limit))

    def test_bad_paging_parameters(self):
        for q in ("?limit=0", "?limit=501", "?limit=x", "?after=x", "?after=12", "?after=1.x", "?after=.5"):
            self.assertEqual(self.c.get("/api/devices" + q).status, 400, q)

    def test_one_device_and_groups_stay_small(self):
        d = self.page("?limit=1").json()["devices"][0]
        r = self.c.get("/api/devices/%d" % d["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["id"], d["id"])
        self.assertEqual(self.c.get("/api/devices/999999999").status, 404)
        g = self.c.get("/api/groups")
        self.assertEqual(g.status, 200)
        default = next(x for x in g.json()["groups"] if x["name"] == "default")
        self.assertEqual(len(default["devices"]), 100)
        self.assertGreaterEqual(default["devices_total"], DEVICES)
        self.assertLess(len(g.body), 64 * 1024)

    def test_other_lists_are_capped(self):
        for path in ("/api/top/clients?n=101", "/api/log?limit=1001", "/api/report?limit=501",
                     "/api/report?names=101", "/api/report/companies/site:page.test?limit=501"):
            self.assertEqual(self.c.get(path).status, 400, path)
        r = self.c.get("/api/top/clients?n=100&range=1h")
        self.assertEqual(len(r.json()["items"]), 100)
        c = self.c.get("/api/report/companies/site:page.test")
        self.assertEqual(c.status, 200, c.body)
        self.assertEqual(len(c.json()["devices"]), 100)
        self.assertGreaterEqual(c.json()["devices_total"], DEVICES)
        self.assertLess(len(c.body), 256 * 1024)


if __name__ == "__main__":
    unittest.main()
