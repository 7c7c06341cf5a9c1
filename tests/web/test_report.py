"""The phone-home report's API (/api/report/...) against the running binary:
two loopback devices (127.0.0.2 and 127.0.0.3) ask real vendor names, and the
report, the new-contact feed, the time series and the one-click actions are
checked through what the devices then get from hush.

Run: HUSH_BINARY=build/hush python3 -m unittest -v tests/web/test_report.py
(ctest does this; see tests/web/CMakeLists.txt).
"""
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Hush, udp_query, wait_until, UPSTREAM_ANSWER  # noqa: E402

PHONE, TV = "127.0.0.2", "127.0.0.3"
# Names from HaGeZi's native.xiaomi and native.samsung lists
# (github.com/hagezi/dns-blocklists, 2026-07 copies).
XIAOMI = ["api.ad.xiaomi.com", "log.ad.xiaomi.com", "tracking.intl.miui.com"]
SAMSUNG = ["metric.account-samsung.com", "samsungcloud.com"]
# In native.xiaomi but under no domain companiesdb gives Xiaomi: only the
# subscribed vendor list blocks it.
LIST_ONLY = "mistat.intl.xiaomi.com.edgesuite.net"


def a(port, name, source):
    rcode, addrs = udp_query(port, name, source=source)
    return addrs


class Devices(unittest.TestCase):
    """A hush of its own, asked by the two devices before the tests run."""

    @classmethod
    def setUpClass(cls):
        cls.h = Hush()
        cls.c = cls.h.client()
        assert cls.c.login(cls.h.password).status == 200
        port = cls.h.dns_port
        for name in XIAOMI:
            assert a(port, name, PHONE) == [UPSTREAM_ANSWER]
            assert a(port, name, PHONE) == [UPSTREAM_ANSWER]
        assert a(port, XIAOMI[0], TV) == [UPSTREAM_ANSWER]
        for name in SAMSUNG:
            assert a(port, name, TV) == [UPSTREAM_ANSWER]

        def devices():
            r = cls.c.get("/api/devices")
            found = {addr: d["id"] for d in r.json()["devices"] for addr in d["addresses"]}
            return found if PHONE in found and TV in found else None

        ids = wait_until(devices, timeout=15, what="both devices in the log")
        cls.phone, cls.tv = ids[PHONE], ids[TV]

        def logged():
            r = cls.c.get("/api/report?device=%d" % cls.tv)
            return r.status == 200 and any(c["key"] == "samsung" for c in r.json()["companies"])

        wait_until(logged, timeout=15, what="the TV's queries in the report")

    @classmethod
    def tearDownClass(cls):
        cls.h.stop()

    def report(self, device=None, **params):
        if device is not None:
            params["device"] = device
        r = self.c.get("/api/report?" + urllib.parse.urlencode(params))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def company_of(self, body, key):
        found = [c for c in body["companies"] if c["key"] == key]
        self.assertEqual(len(found), 1, [c["key"] for c in body["companies"]])
        return found[0]

class ReadTest(Devices):
    """Reading only, so the counts stay those the devices made."""

    def test_matrix_has_each_device_against_each_company_with_strips_over_the_period(self):
        r = self.c.get("/api/report/matrix?since=24h&devices=50&companies=12")
        self.assertEqual(r.status, 200, r.body)
        m = r.json()
        keys = [c["key"] for c in m["companies"]]
        self.assertIn("xiaomi", keys)
        self.assertIn("samsung", keys)
        # Companies on record come before bare sites (the harness's readiness name).
        known = [c["known"] for c in m["companies"]]
        self.assertEqual(known, sorted(known, reverse=True))
        rows = {d["id"]: d for d in m["devices"]}
        x, s = keys.index("xiaomi"), keys.index("samsung")
        self.assertEqual(rows[self.phone]["cells"][x], [6, 0])
        self.assertEqual(rows[self.phone]["cells"][s], [0, 0])
        self.assertEqual(rows[self.tv]["cells"][x], [1, 0])
        self.assertEqual(rows[self.tv]["cells"][s][0], 2)
        xiaomi = m["companies"][x]
        self.assertEqual(xiaomi["devices"], 2)
        # 24 hours: hourly cells from the raw rows (the first and last hours
        # partly in the range), starting at the first hour's start.
        self.assertEqual(m["strip_step_s"], 3600)
        self.assertIn(len(xiaomi["strip"]), (24, 25))
        self.assertEqual(m["strip_since_ms"] % 3600000, 0)
        self.assertLessEqual(m["since_ms"] - m["strip_since_ms"], 3600000)
        self.assertEqual(sum(h[0] for h in xiaomi["strip"]), 7)
        self.assertEqual(sum(h[0] for h in xiaomi["strip"][:-2]), 0, "the queries were in the last hour or two")
        # 7 and 30 days: UTC days from the daily counts, today last.
        for since, days in (("7d", 7), ("30d", 30)):
            w = self.c.get("/api/report/matrix?since=%s&devices=50&companies=12" % since).json()
            self.assertEqual(w["strip_step_s"], 86400)
            strip = next(c for c in w["companies"] if c["key"] == "xiaomi")["strip"]
            self.assertIn(len(strip), (days, days + 1))
            self.assertEqual(sum(d[0] for d in strip), 7)
            self.assertEqual(strip[-1][0] + strip[-2][0], 7, "the queries were today (or just before midnight)")
        # The next page of companies: the columns after the first.
        page2 = self.c.get("/api/report/matrix?since=24h&devices=50&companies=1&offset=1").json()
        self.assertEqual([c["key"] for c in page2["companies"]], keys[1:2])
        self.assertEqual(page2["offset"], 1)
        one = self.c.get("/api/report/matrix?since=24h&devices=1&companies=1").json()
        self.assertEqual(len(one["devices"]), 1)
        self.assertEqual(len(one["companies"]), 1)
        self.assertGreaterEqual(one["devices_total"], 2)
        self.assertGreaterEqual(one["companies_total"], 2)
        self.assertEqual(self.c.get("/api/report/matrix?devices=0").status, 400)

    def test_device_report_names_the_company_and_its_names(self):
        body = self.report(self.phone, since="24h")
        self.assertEqual(body["device"]["id"], self.phone)
        self.assertEqual(body["device"]["own_group"], "device-%d" % self.phone)
        x = self.company_of(body, "xiaomi")
        self.assertTrue(x["known"])
        self.assertIn("Xiaomi", x["company"])
        self.assertEqual(x["queries"], 2 * len(XIAOMI))
        self.assertEqual(x["devices"], 1)
        self.assertEqual(sorted(n["name"] for n in x["names"]), sorted(XIAOMI))
        self.assertEqual(x["names_total"], len(XIAOMI))
        self.assertTrue(x["categories"])
        now_ms = time.time() * 1000
        self.assertLess(abs(x["first_seen_ms"] - now_ms), 120000)
        self.assertEqual(x["blocked_share"], 0)
        self.assertEqual(x["blocked_for"], [])
        self.assertIn("hagezi-xiaomi", [l["id"] for l in x["vendor_lists"]])
        # The phone asked nothing of Samsung.
        self.assertNotIn("samsung", [c["key"] for c in body["companies"]])
        self.assertIn("companiesdb", body["attribution"]["text"])
        self.assertEqual(body["attribution"]["license_url"], "https://creativecommons.org/licenses/by-sa/4.0/")

    def test_overview_counts_devices_per_company_and_categories(self):
        body = self.report(since="24h")
        x = self.company_of(body, "xiaomi")
        self.assertEqual(x["devices"], 2)
        self.assertEqual(x["queries"], 2 * len(XIAOMI) + 1)
        self.assertEqual(self.company_of(body, "samsung")["devices"], 1)
        total = sum(c["queries"] for c in body["categories"])
        self.assertGreaterEqual(total, x["queries"] + self.company_of(body, "samsung")["queries"])
        self.assertTrue(all(c["category"] for c in body["categories"]))
        # limit and names cut the answer, not the totals.
        cut = self.report(since="24h", limit=1, names=1)
        self.assertEqual(len(cut["companies"]), 1)
        self.assertEqual(cut["companies_total"], body["companies_total"])
        self.assertLessEqual(len(cut["companies"][0]["names"]), 1)

    def test_company_lists_the_devices_that_talk_to_it(self):
        r = self.c.get("/api/report/companies/xiaomi?since=24h")
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(sorted(d["id"] for d in body["devices"]), sorted([self.phone, self.tv]))
        phone = [d for d in body["devices"] if d["id"] == self.phone][0]
        self.assertEqual(phone["queries"], 2 * len(XIAOMI))
        self.assertIn("xiaomi.com", body["domains"])
        self.assertIn("attribution", body)
        missing = self.c.get("/api/report/companies/no_such_company_here")
        self.assertEqual(missing.status, 404)
        self.assertIn("no_such_company_here", missing.json()["error"])

    def test_new_feed_has_the_first_contacts(self):
        r = self.c.get("/api/report/new?since=1h")
        self.assertEqual(r.status, 200, r.body)
        contacts = r.json()["contacts"]
        firsts = {(n["device"]["id"], n["key"]) for n in contacts if n["kind"] == "company"}
        self.assertIn((self.phone, "xiaomi"), firsts)
        self.assertIn((self.tv, "xiaomi"), firsts)
        self.assertIn((self.tv, "samsung"), firsts)
        names = {n["name"] for n in contacts if n["kind"] == "name" and n["device"]["id"] == self.phone}
        self.assertTrue(set(XIAOMI) <= names, names)
        only_tv = self.c.get("/api/report/new?since=1h&device=%d" % self.tv).json()["contacts"]
        self.assertTrue(only_tv)
        self.assertEqual({n["device"]["id"] for n in only_tv}, {self.tv})

    def test_history_adds_up_to_the_report(self):
        r = self.c.get("/api/report/history?company=xiaomi&device=%d&since=24h" % self.phone)
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["step_s"], 3600)
        self.assertEqual(sum(p["queries"] for p in body["points"]), 2 * len(XIAOMI))
        days = self.c.get("/api/report/history?company=xiaomi&since=30d").json()
        self.assertEqual(days["step_s"], 86400)
        self.assertEqual(sum(p["queries"] for p in days["points"]), 2 * len(XIAOMI) + 1)

    def test_bad_requests_say_what_is_wrong(self):
        for path, status, word in [
            ("/api/report?since=yesterday", 400, "since"),
            ("/api/report?device=abc", 400, "device"),
            ("/api/report?device=999999", 404, "device"),
            ("/api/report/history", 400, "company"),
            ("/api/report/history?company=xiaomi&step=week", 400, "step"),
            ("/api/report/new?limit=0", 400, "limit"),
            ("/api/report/history?company=" + urllib.parse.quote("site:<b> x.test"), 404, "not a domain name"),
            ("/api/report/companies/" + urllib.parse.quote("<b> x.test"), 404, "not a domain name"),
        ]:
            r = self.c.get(path)
            self.assertEqual(r.status, status, path)
            self.assertIn(word, r.json()["error"], path)
        for body, status, word in [
            ({"company": "xiaomi"}, 400, "device or group"),
            ({"company": "xiaomi", "device": self.phone, "group": "kids"}, 400, "device or group"),
            ({"company": "xiaomi", "group": "Not A Group"}, 400, "group"),
            ({"company": "xiaomi", "device": 999999}, 404, "device"),
            ({"company": "nobody_we_know", "device": self.phone}, 404, "nobody_we_know"),
        ]:
            r = self.c.post("/api/report/block", body)
            self.assertEqual(r.status, status, body)
            self.assertIn(word, r.json()["error"], body)
        self.assertEqual(self.c.post("/api/report/block", "[1]").status, 400)


class ActionTest(Devices):
    """The one-click actions, judged by what the devices get from hush."""

    def test_actions_need_a_login_and_the_csrf_header(self):
        anon = self.h.client()
        self.assertEqual(anon.get("/api/report").status, 401)
        self.assertEqual(anon.post("/api/report/block", {"company": "xiaomi", "device": self.phone}).status, 401)
        r = self.c.post("/api/report/block", {"company": "xiaomi", "device": self.phone}, csrf=False)
        self.assertEqual(r.status, 403)
        self.assertEqual(a(self.h.dns_port, XIAOMI[0], PHONE), [UPSTREAM_ANSWER])

    def test_block_for_one_device_leaves_the_other_alone(self):
        port = self.h.dns_port
        r = self.c.post("/api/report/block", {"company": "xiaomi", "device": self.phone})
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["group"], "device-%d" % self.phone)
        self.assertIn("||xiaomi.com^", body["patterns"])
        self.assertIn("||miui.com^", body["patterns"])
        self.assertTrue(body["applied"])
        try:
            for name in XIAOMI:
                self.assertEqual(a(port, name, PHONE), ["0.0.0.0"], name)
                self.assertEqual(a(port, name, TV), [UPSTREAM_ANSWER], name)
            self.assertEqual(a(port, "example.com", PHONE), [UPSTREAM_ANSWER])
            x = self.company_of(self.report(self.phone, since="24h"), "xiaomi")
            self.assertEqual(x["blocked_for"], ["device-%d" % self.phone])
            self.assertEqual(self.company_of(self.report(self.tv, since="24h"), "xiaomi")["blocked_for"], [])
            # Twice is the same as once.
            again = self.c.post("/api/report/block", {"company": "xiaomi", "device": self.phone})
            self.assertEqual(again.status, 200)
            self.assertEqual(again.json()["patterns"], [])
        finally:
            r = self.c.post("/api/report/unblock", {"company": "xiaomi", "device": self.phone})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sorted(r.json()["patterns"]), sorted(body["patterns"]))
        self.assertEqual(a(port, XIAOMI[0], PHONE), [UPSTREAM_ANSWER])
        self.assertEqual(self.c.post("/api/report/unblock", {"company": "xiaomi", "device": self.phone}).status, 404)

    def test_block_for_a_group(self):
        port = self.h.dns_port
        r = self.c.put("/api/devices/%d" % self.tv, {"groups": ["default", "tv"]})
        self.assertEqual(r.status, 200, r.body)
        try:
            r = self.c.post("/api/report/block", {"company": "samsung", "group": "tv"})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["group"], "tv")
            self.assertEqual(a(port, SAMSUNG[0], TV), ["0.0.0.0"])
            self.assertEqual(a(port, SAMSUNG[0], PHONE), [UPSTREAM_ANSWER])
            overview = self.report(since="24h")
            self.assertEqual(self.company_of(overview, "samsung")["blocked_for"], ["tv"])
            r = self.c.post("/api/report/unblock", {"company": "samsung", "group": "tv"})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(a(port, SAMSUNG[0], TV), [UPSTREAM_ANSWER])
        finally:
            self.c.put("/api/devices/%d" % self.tv, {"groups": ["default"]})

    def test_subscribe_the_vendor_list_for_one_device(self):
        port = self.h.dns_port
        # A local copy stands in for the catalog's URL (tests stay off the network).
        copy = os.path.join(self.h.tmp, "native.xiaomi.txt")
        with open(copy, "w") as f:
            f.write("! Title: HaGeZi's Xiaomi Tracker DNS Blocklist (excerpt)\n||%s^\n||ad.xiaomi.com^\n" % LIST_ONLY)
        self.assertEqual(a(port, LIST_ONLY, PHONE), [UPSTREAM_ANSWER])
        r = self.c.post("/api/report/subscribe", {"company": "xiaomi", "device": self.phone, "url": "file://" + copy})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["list"], "hagezi-xiaomi")
        self.assertEqual(r.json()["group"], "device-%d" % self.phone)
        try:
            wait_until(lambda: a(port, LIST_ONLY, PHONE) == ["0.0.0.0"], timeout=20, what="the list in force")
            self.assertEqual(a(port, LIST_ONLY, TV), [UPSTREAM_ANSWER])
            x = self.company_of(self.report(self.phone, since="24h"), "xiaomi")
            lists = {l["id"]: l["groups"] for l in x["vendor_lists"]}
            self.assertEqual(lists["hagezi-xiaomi"], ["device-%d" % self.phone])
        finally:
            r = self.c.post("/api/report/unsubscribe", {"list": "hagezi-xiaomi", "device": self.phone})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["removed"])
        wait_until(lambda: a(port, LIST_ONLY, PHONE) == [UPSTREAM_ANSWER], timeout=20, what="the list gone")
        self.assertEqual(self.c.post("/api/report/unsubscribe", {"list": "hagezi-xiaomi", "device": self.phone}).status, 404)
        r = self.c.post("/api/report/subscribe", {"company": "xiaomi", "device": self.phone, "list": "hagezi-samsung"})
        self.assertEqual(r.status, 400)
        self.assertIn("hagezi-samsung", r.json()["error"])


if __name__ == "__main__":
    unittest.main()
