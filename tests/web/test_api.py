"""API tests against the running binary: hush serve on loopback ports with a
fake upstream, driven over HTTP like the dashboard and scripts drive it.

Run: HUSH_BINARY=build/hush python3 -m unittest -v tests/web/test_api.py
(ctest does this; see tests/web/CMakeLists.txt).
"""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Hush, dig, udp_query, wait_until, UPSTREAM_ANSWER  # noqa: E402


class ApiTest(unittest.TestCase):
    """One hush for the tests that do not change who may log in."""

    @classmethod
    def setUpClass(cls):
        cls.tmp_lists = os.path.join(os.environ.get("TMPDIR", "/tmp"), "hush-web-list-%d.txt" % os.getpid())
        with open(cls.tmp_lists, "w") as f:
            f.write("0.0.0.0 ads.test\n0.0.0.0 tracker.test\n")
        cls.h = Hush(extra_args=("--blocklist", cls.tmp_lists))
        cls.c = cls.h.client()
        r = cls.c.login(cls.h.password)
        assert r.status == 200, r.body

    @classmethod
    def tearDownClass(cls):
        cls.h.stop()
        os.unlink(cls.tmp_lists)

    def logged_rows(self, **params):
        q = "&".join("%s=%s" % kv for kv in params.items())
        r = self.c.get("/api/log?" + q)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["rows"]

    # ---------------------------------------------------------------- auth

    def test_no_credentials_is_401_json(self):
        anon = self.h.client()
        for path in ("/api/summary", "/api/log", "/api/devices", "/api/rules"):
            r = anon.get(path)
            self.assertEqual(r.status, 401, path)
            self.assertIn("application/json", r.header("Content-Type"))
            self.assertIn("error", r.json())
        # The page's first question is answered without an error (no 401 in
        # the browser's console on every visit), and gives nothing away.
        r = anon.get("/api/session")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"logged_in": False})
        r = anon.get("/api/session", headers={"Authorization": "Bearer hush_wrong_token"})
        self.assertEqual(r.status, 401)
        r = anon.post("/api/rules", {"kind": "deny", "pattern": "x.test"})
        self.assertEqual(r.status, 401)

    def test_wrong_password_is_401(self):
        other = self.h.client()
        # From another "address" would be nicer; one wrong try stays under the limit.
        r = other.login("not the password")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"], "wrong password")
        self.assertNotIn("hush_session", other.cookies)

    def test_session_cookie_flags(self):
        other = self.h.client()
        r = other.post("/api/login", {"password": self.h.password})
        self.assertEqual(r.status, 200)
        cookie = r.header("Set-Cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertEqual(len(r.json()["csrf"]), 64)
        s = other.get("/api/session")
        self.assertEqual(s.status, 200)
        self.assertEqual(s.json()["csrf"], r.json()["csrf"])
        # Logging out ends the session for good.
        other.csrf = r.json()["csrf"]
        cookies = dict(other.cookies)
        self.assertEqual(other.post("/api/logout").status, 200)
        other.cookies = cookies
        self.assertEqual(other.get("/api/summary").status, 401)

    def test_csrf_token_required_for_changes(self):
        r = self.c.post("/api/rules", {"kind": "deny", "pattern": "csrf.test"}, csrf=False)
        self.assertEqual(r.status, 403)
        self.assertIn("X-CSRF-Token", r.json()["error"])
        r = self.c.request("POST", "/api/rules", {"kind": "deny", "pattern": "csrf.test"}, csrf=False,
                           headers={"X-CSRF-Token": "0" * 64})
        self.assertEqual(r.status, 403)
        r = self.c.put("/api/blocking", {"enabled": False}, csrf=False)
        self.assertEqual(r.status, 403)
        self.assertTrue(self.c.get("/api/blocking").json()["enabled"])
        self.assertNotIn("csrf.test", [x["pattern"] for x in self.c.get("/api/rules").json()["rules"]])
        # Reading needs no token.
        self.assertEqual(self.c.get("/api/rules").status, 200)

    def test_api_tokens(self):
        r = self.c.post("/api/tokens", {"name": "script"})
        self.assertEqual(r.status, 201, r.body)
        token = r.json()["token"]
        self.assertTrue(token.startswith("hush_"))
        bot = self.h.client()
        bot.bearer = token
        self.assertEqual(bot.get("/api/summary").status, 200)
        # A bearer token needs no CSRF token (no cookie is involved).
        r = bot.post("/api/rules", {"kind": "deny", "pattern": "token-made.test"})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(self.c.delete("/api/rules/" + r.json()["id"]).status, 200)
        # Stored hashed: the file never holds the token itself.
        with open(os.path.join(self.h.data_dir, "web-auth.json")) as f:
            stored = f.read()
        self.assertNotIn(token, stored)
        self.assertNotIn(self.h.password, stored)
        # A token made by `hush token create` works at once with the running server.
        out = subprocess.run([harness.HUSH, "token", "create", "cli", "--data-dir", self.h.data_dir],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        cli = self.h.client()
        cli.bearer = out.stdout.strip()
        self.assertEqual(cli.get("/api/devices").status, 200)
        # Revoked: 401.
        ids = [t["id"] for t in self.c.get("/api/tokens").json()["tokens"] if t["name"] == "script"]
        self.assertEqual(len(ids), 1)
        self.assertEqual(self.c.delete("/api/tokens/" + ids[0]).status, 200)
        self.assertEqual(bot.get("/api/summary").status, 401)
        bad = self.h.client()
        bad.bearer = "hush_0000_" + "0" * 64
        self.assertEqual(bad.get("/api/summary").status, 401)

    # ---------------------------------------------------------------- shapes

    def test_01_summary_log_devices_shapes(self):
        """Runs first (unittest sorts by name), so the counts are only its own."""
        self.assertEqual(dig(self.h.dns_port, "shape.test"), [UPSTREAM_ANSWER])
        self.assertEqual(dig(self.h.dns_port, "ads.test"), ["0.0.0.0"])
        wait_until(lambda: self.logged_rows(domain="shape.test"), what="shape.test in the log")
        rows = wait_until(lambda: [r for r in self.logged_rows(domain="ads.test") if r["status"] == "blocked"],
                          what="blocked row in the log")
        row = rows[0]
        for key in ("id", "time_ms", "device_id", "device", "client", "domain", "type", "status", "reason", "answer"):
            self.assertIn(key, row)
        self.assertEqual(row["client"], "127.0.0.1")
        self.assertEqual(row["type"], "A")
        self.assertIn(os.path.basename(self.tmp_lists), row["reason"])
        s = self.c.get("/api/summary?range=1h").json()
        self.assertGreaterEqual(s["total"], 2)
        self.assertGreaterEqual(s["blocked"], 1)
        self.assertGreater(s["blocked_percent"], 0)
        self.assertLessEqual(s["blocked_percent"], 100)
        self.assertEqual(s["blocked_names"], 2)
        self.assertEqual(s["lists"], 1)
        self.assertEqual(s["blocking"], {"enabled": True, "until": 0, "seconds_left": 0})
        self.assertEqual(set(s["by_status"]), {"forwarded", "cached", "blocked", "local", "refused", "error"})
        d = self.c.get("/api/devices").json()["devices"]
        self.assertGreaterEqual(len(d), 1)
        dev = d[0]
        for key in ("id", "name", "addresses", "groups", "first_seen_ms", "last_seen_ms", "queries", "blocked"):
            self.assertIn(key, dev)
        self.assertIn("127.0.0.1", dev["addresses"])
        one = self.c.get("/api/devices/%d" % dev["id"]).json()
        self.assertIn("ads.test", [x["name"] for x in one["top_blocked"]])
        self.assertIn("shape.test", [x["domain"] for x in one["new_domains_today"]])
        self.assertGreater(one["summary"]["total"], 0)
        self.assertEqual(self.c.get("/api/devices/999999").status, 404)
        h = self.c.get("/api/history?range=1h&bucket=minute").json()
        self.assertEqual(h["bucket_s"], 60)
        self.assertGreaterEqual(sum(p["blocked"] for p in h["points"]), 1)
        for p in h["points"]:
            self.assertEqual(p["allowed"] + p["blocked"], p["total"])
        hd = self.c.get("/api/history?range=1h&device=%d" % dev["id"]).json()
        self.assertGreaterEqual(sum(p["total"] for p in hd["points"]), 2)
        top = self.c.get("/api/top/blocked?range=1h").json()["items"]
        self.assertEqual(top[0]["name"], "ads.test")
        clients = self.c.get("/api/top/clients?range=1h").json()["items"]
        self.assertEqual(clients[0]["id"], dev["id"])
        # Filters: status, type, client, domain substring, time range.
        self.assertTrue(all(r["status"] == "blocked" for r in self.logged_rows(status="blocked")))
        self.assertEqual(self.logged_rows(type="AAAA", domain="shape"), [])
        self.assertTrue(self.logged_rows(client="127.0.0.1", domain="shape"))
        self.assertEqual(self.logged_rows(client="nobody-here", domain="shape"), [])
        self.assertEqual(self.logged_rows(since=int(time.time()) + 3600), [])

    def test_cursor_paging(self):
        for i in range(5):
            udp_query(self.h.dns_port, "page%d.paging.test" % i)
        wait_until(lambda: len(self.logged_rows(domain="paging.test")) == 5, what="5 rows")
        first = self.c.get("/api/log?domain=paging.test&limit=2").json()
        self.assertEqual(len(first["rows"]), 2)
        self.assertGreater(first["next_before"], 0)
        second = self.c.get("/api/log?domain=paging.test&limit=2&before=%d" % first["next_before"]).json()
        third = self.c.get("/api/log?domain=paging.test&limit=2&before=%d" % second["next_before"]).json()
        names = [r["domain"] for page in (first, second, third) for r in page["rows"]]
        self.assertEqual(names, ["page%d.paging.test" % i for i in (4, 3, 2, 1, 0)])

    def test_bad_requests_are_json(self):
        r = self.c.request("POST", "/api/rules", "{not json")
        self.assertEqual(r.status, 400)
        self.assertIn("error", r.json())
        r = self.c.post("/api/rules", {"kind": "maybe", "pattern": "x.test"})
        self.assertEqual(r.status, 400)
        r = self.c.post("/api/rules", {"kind": "deny", "pattern": "/unclosed(/"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.c.get("/api/log?limit=abc").status, 400)
        self.assertEqual(self.c.get("/api/log?status=bogus").status, 400)
        self.assertEqual(self.c.get("/api/summary?range=forever").status, 400)
        r = self.c.get("/api/no-such-thing")
        self.assertEqual(r.status, 404)
        self.assertIn("error", r.json())
        r = self.c.put("/api/blocking", {"enabled": "no"})
        self.assertEqual(r.status, 400)

    def test_security_headers(self):
        for path in ("/", "/app.js", "/api/summary"):
            r = self.c.get(path)
            self.assertEqual(r.status, 200, path)
            csp = r.header("Content-Security-Policy")
            self.assertIn("script-src 'self'", csp)
            self.assertNotIn("unsafe-inline", csp)
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
            self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
        index = self.c.get("/").body.decode()
        self.assertNotIn("<script>", index)  # no inline script
        self.assertIn("uPlot", self.c.get("/vendor/uPlot.iife.min.js").body.decode()[:2000])
        self.assertIn("openapi", self.c.get("/openapi.yaml").body.decode()[:200])

    def test_every_route_is_served_and_described(self):
        # The routes as the server's sources add them (web/*.cpp), each checked
        # against what hush serves (a GET the server knows is never the
        # catch-all "not found") and against the API description it serves.
        web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
        routes = set()
        for name in sorted(os.listdir(web)):
            if name.endswith(".cpp"):
                with open(os.path.join(web, name)) as f:
                    for method, pattern in re.findall(r'\.(get|post|put|del)\("(/api/[^"]*)"', f.read()):
                        routes.add(("delete" if method == "del" else method, pattern))
        self.assertGreater(len(routes), 50)

        def concrete(pattern):
            # "(a|b)" is each of its words; any other group is a parameter.
            m = re.search(r"\(([A-Za-z|]+)\)", pattern)
            if m:
                return [p for word in m.group(1).split("|")
                        for p in concrete(pattern[:m.start()] + word + pattern[m.end():])]
            return [re.sub(r"\([^)]*\)", "{}", pattern)]

        spec, path = {}, None
        for line in self.c.get("/openapi.yaml").body.decode().splitlines():
            m = re.match(r"^  (/\S*):\s*$", line)
            if m:
                path = m.group(1)
                spec[path] = set()
            elif re.match(r"^\S", line):
                path = None
            elif path and re.match(r"^    (get|post|put|delete):", line):
                spec[path].add(line.strip().rstrip(":"))

        def described(method, route):
            want = route.split("/")
            for p, methods in spec.items():
                have = p.split("/")
                if method in methods and len(have) == len(want) and all(
                        a == b or (a.startswith("{") and a.endswith("}")) for a, b in zip(have, want)):
                    return True
            return False

        missing = [m.upper() + " " + r for m, p in sorted(routes) for r in concrete(p) if not described(m, r)]
        self.assertEqual(missing, [], "routes the API description does not name")
        # Streams and long polls answer later; the others are asked.
        for method, pattern in sorted(routes):
            if method != "get" or pattern in ("/api/log/stream", "/api/sync/state"):
                continue
            for route in concrete(pattern):
                r = self.c.get(route.replace("{}", "1"))
                self.assertFalse(r.status == 404 and r.json().get("error") == "not found", route)
        # And the check can fail: a route the description lacks is found.
        self.assertFalse(described("get", "/api/no-such-route"))

    def test_html_in_names_comes_back_as_plain_json_text(self):
        evil = "<img src=x onerror=alert(1)>.test"
        udp_query(self.h.dns_port, evil)
        rows = wait_until(lambda: self.logged_rows(domain="onerror"), what="the odd name in the log")
        self.assertEqual(rows[0]["domain"], evil)
        raw = self.c.get("/api/log?domain=onerror").body
        self.assertIn(b"application/json", self.c.get("/api/log?domain=onerror").header("Content-Type").encode())
        self.assertIn(evil.encode(), raw)  # JSON text; the page shows it with textContent

    # ---------------------------------------------------------------- rules, blocking, devices

    def test_deny_and_allow_round_trip(self):
        self.assertEqual(dig(self.h.dns_port, "roundtrip.test"), [UPSTREAM_ANSWER])
        r = self.c.post("/api/rules", {"kind": "deny", "pattern": "roundtrip.test"})
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(r.json()["applied"])
        deny_id = r.json()["id"]
        self.assertEqual(dig(self.h.dns_port, "roundtrip.test"), ["0.0.0.0"])
        self.assertEqual(self.c.post("/api/rules", {"kind": "deny", "pattern": "roundtrip.test"}).status, 400)
        # Allow beats a list.
        self.assertEqual(dig(self.h.dns_port, "tracker.test"), ["0.0.0.0"])
        r = self.c.post("/api/rules", {"kind": "allow", "pattern": "tracker.test"})
        self.assertEqual(r.status, 201, r.body)
        allow_id = r.json()["id"]
        self.assertEqual(dig(self.h.dns_port, "tracker.test"), [UPSTREAM_ANSWER])
        rules = self.c.get("/api/rules").json()["rules"]
        self.assertIn(("deny", "roundtrip.test"), [(x["kind"], x["pattern"]) for x in rules])
        # Removing them undoes both.
        self.assertEqual(self.c.delete("/api/rules/" + deny_id).status, 200)
        self.assertEqual(self.c.delete("/api/rules/" + allow_id).status, 200)
        self.assertEqual(self.c.delete("/api/rules/" + allow_id).status, 404)
        self.assertEqual(dig(self.h.dns_port, "roundtrip.test"), [UPSTREAM_ANSWER])
        self.assertEqual(dig(self.h.dns_port, "tracker.test"), ["0.0.0.0"])

    def test_blocking_off_with_timer(self):
        self.assertEqual(dig(self.h.dns_port, "ads.test"), ["0.0.0.0"])
        r = self.c.put("/api/blocking", {"enabled": False, "seconds": 3})
        self.assertEqual(r.status, 200, r.body)
        b = r.json()
        self.assertFalse(b["enabled"])
        self.assertAlmostEqual(b["until"], time.time() + 3, delta=2)
        self.assertIn(b["seconds_left"], (2, 3))
        self.assertEqual(dig(self.h.dns_port, "ads.test"), [UPSTREAM_ANSWER])
        self.assertFalse(self.c.get("/api/summary").json()["blocking"]["enabled"])
        # Back on by itself (the main loop looks every 2 s).
        wait_until(lambda: dig(self.h.dns_port, "ads.test") == ["0.0.0.0"], timeout=10, step=0.5,
                   what="blocking to come back")
        self.assertEqual(self.c.get("/api/blocking").json(), {"enabled": True, "until": 0, "seconds_left": 0})
        # Off until turned on, then on.
        self.assertEqual(self.c.put("/api/blocking", {"enabled": False}).json(),
                         {"enabled": False, "until": 0, "seconds_left": 0})
        self.assertEqual(dig(self.h.dns_port, "ads.test"), [UPSTREAM_ANSWER])
        self.assertTrue(self.c.post("/api/blocking", {"enabled": True}).json()["enabled"])
        self.assertEqual(dig(self.h.dns_port, "ads.test"), ["0.0.0.0"])

    def test_timed_controls_and_services(self):
        self.assertEqual(dig(self.h.dns_port, "ads.test"), ["0.0.0.0"])
        # Allowed for everyone for 3 s: in force at once, then over by itself.
        r = self.c.post("/api/controls", {"kind": "allow", "target": "ads.test", "seconds": 3})
        self.assertEqual(r.status, 201, r.body)
        c = r.json()
        self.assertEqual((c["kind"], c["target"], c["group"], c["label"]), ("allow", "ads.test", "*", "everyone"))
        self.assertTrue(c["applied"])
        self.assertIn(c["seconds_left"], (2, 3))
        self.assertEqual(dig(self.h.dns_port, "ads.test"), [UPSTREAM_ANSWER])
        self.assertEqual([x["id"] for x in self.c.get("/api/controls").json()["controls"]], [c["id"]])
        wait_until(lambda: dig(self.h.dns_port, "ads.test") == ["0.0.0.0"], timeout=10, step=0.3,
                   what="the timed allow to end")
        self.assertEqual(self.c.get("/api/controls").json()["controls"], [])
        self.assertEqual(self.c.delete("/api/controls/" + c["id"]).status, 404)
        # A pause for one device (its own group), cancelled now.
        udp_query(self.h.dns_port, "controls.test")
        dev = wait_until(lambda: self.c.get("/api/devices").json()["devices"], what="a device")[0]["id"]
        r = self.c.post("/api/controls", {"kind": "pause", "device": dev, "seconds": 600})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["group"], "device-%d" % dev)
        self.assertEqual(dig(self.h.dns_port, "ads.test"), [UPSTREAM_ANSWER])
        mine = self.c.get("/api/controls?group=device-%d" % dev).json()["controls"]
        self.assertEqual([x["kind"] for x in mine], ["pause"])
        self.assertEqual(self.c.delete("/api/controls/" + r.json()["id"]).status, 200)
        self.assertEqual(dig(self.h.dns_port, "ads.test"), ["0.0.0.0"])
        # A service for a group; listed with whom it is blocked for.
        r = self.c.post("/api/controls", {"kind": "service", "target": "YouTube", "group": "kids"})
        self.assertEqual(r.status, 201, r.body)
        yt = [s for s in self.c.get("/api/services").json()["services"] if s["id"] == "youtube"][0]
        self.assertIn("||youtube.com^", yt["rules"])
        self.assertEqual([b["group"] for b in yt["blocked"]], ["kids"])
        self.assertEqual(self.c.delete("/api/controls/" + r.json()["id"]).status, 200)
        # Bad input: 400 with a reason, 404 for a device the log does not have.
        for body, why in (({"kind": "pause", "seconds": 0}, "end time"),
                          ({"kind": "pause", "seconds": 700000}, "seconds"),
                          ({"kind": "allow", "target": "two words", "seconds": 60}, "name"),
                          ({"kind": "service", "target": "myspace"}, "no service"),
                          ({"kind": "pause", "seconds": 60, "group": "Bad Group"}, "group"),
                          ({"kind": "sleep", "seconds": 60}, "kind")):
            r = self.c.post("/api/controls", body)
            self.assertEqual(r.status, 400, body)
            self.assertIn(why, r.json()["error"])
        self.assertEqual(self.c.post("/api/controls", {"kind": "pause", "device": 999999, "seconds": 60}).status, 404)

    def test_schedules(self):
        # Windows around the server's wall-clock now (it shares this process's zone).
        now = time.localtime()
        minute = now.tm_hour * 60 + now.tm_min
        hhmm = lambda m: "%02d:%02d" % (m % 1440 // 60, m % 60)
        around_now = {"days": "daily", "from": hhmm(minute - 60), "to": hhmm(minute + 60)}
        later = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": hhmm(minute + 120), "to": hhmm(minute + 180)}
        self.assertEqual(dig(self.h.dns_port, "sched.test"), [UPSTREAM_ANSWER])
        r = self.c.post("/api/schedules", {"windows": [around_now], "rules": ["||sched.test^"]})
        self.assertEqual(r.status, 201, r.body)
        s = r.json()
        self.assertEqual((s["group"], s["label"], s["active"], s["applied"]), ("*", "everyone", True, True))
        self.assertEqual(s["windows"], [{"days": "daily", "from": around_now["from"], "to": around_now["to"]}])
        self.assertGreater(s["next_change"], time.time())
        self.assertEqual(dig(self.h.dns_port, "sched.test"), ["0.0.0.0"])
        # One that is not in a window now changes nothing yet.
        r = self.c.post("/api/schedules", {"windows": [later], "off": True, "group": "kids"})
        self.assertEqual(r.status, 201, r.body)
        self.assertFalse(r.json()["active"])
        listed = self.c.get("/api/schedules").json()["schedules"]
        self.assertEqual([x["id"] for x in listed], [s["id"], r.json()["id"]])
        self.assertEqual([x["id"] for x in self.c.get("/api/schedules?group=kids").json()["schedules"]], [r.json()["id"]])
        self.assertEqual(self.c.delete("/api/schedules/" + r.json()["id"]).status, 200)
        # Blocking off for everyone now: the list's name passes until removed.
        off = self.c.post("/api/schedules", {"windows": [around_now], "off": True}).json()
        self.assertEqual(dig(self.h.dns_port, "ads.test"), [UPSTREAM_ANSWER])
        self.assertEqual(self.c.delete("/api/schedules/" + off["id"]).status, 200)
        self.assertEqual(dig(self.h.dns_port, "ads.test"), ["0.0.0.0"])
        self.assertEqual(self.c.delete("/api/schedules/" + s["id"]).status, 200)
        self.assertEqual(dig(self.h.dns_port, "sched.test"), [UPSTREAM_ANSWER])
        self.assertEqual(self.c.delete("/api/schedules/" + s["id"]).status, 404)
        # Bad input: 400 with a reason, 404 for a device the log does not have.
        for body, why in (({"rules": ["||x.test^"]}, "windows"),
                          ({"windows": [], "rules": ["||x.test^"]}, "at least one window"),
                          ({"windows": [{"days": "someday", "from": "21:00", "to": "07:00"}], "rules": ["||x.test^"]}, "days"),
                          ({"windows": [{"days": "daily", "from": "25:00", "to": "07:00"}], "rules": ["||x.test^"]}, "from"),
                          ({"windows": [around_now]}, "say what"),
                          ({"windows": [around_now], "services": ["myspace"]}, "no service"),
                          ({"windows": [around_now], "rules": ["||x.test^"], "zone": "Mars/Olympus"}, "time zone"),
                          ({"windows": [around_now], "companies": ["no-such-company-at-all"]}, "no company"),
                          ({"windows": [around_now], "rules": ["||x.test^"], "group": "Bad Group"}, "group"),
                          ({"windows": [around_now], "off": "yes"}, "off"),
                          ({"windows": [around_now] * 29, "off": True}, "windows")):
            r = self.c.post("/api/schedules", body)
            self.assertEqual(r.status, 400, body)
            self.assertIn(why, r.json()["error"])
        self.assertEqual(self.c.post("/api/schedules", {"windows": [around_now], "off": True, "device": 999999}).status, 404)
        self.assertEqual(self.c.get("/api/schedules").json()["schedules"], [])

    def test_device_rename_and_group(self):
        udp_query(self.h.dns_port, "rename.test")
        devs = wait_until(lambda: self.c.get("/api/devices").json()["devices"], what="a device")
        dev_id = devs[0]["id"]
        name = "Kid's <tablet> \"2\""
        r = self.c.put("/api/devices/%d" % dev_id, {"name": name, "groups": ["default", "kids"]})
        self.assertEqual(r.status, 200, r.body)
        one = self.c.get("/api/devices/%d" % dev_id).json()
        self.assertEqual(one["name"], name)
        self.assertEqual(sorted(one["groups"]), ["default", "kids"])
        groups = {g["name"]: g for g in self.c.get("/api/groups").json()["groups"]}
        self.assertIn(dev_id, [d["id"] for d in groups["kids"]["devices"]])
        # A deny entry for the kids group now reaches this device (127.0.0.1).
        r = self.c.post("/api/rules", {"kind": "deny", "pattern": "kidsonly.test", "groups": ["kids"]})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(dig(self.h.dns_port, "kidsonly.test"), ["0.0.0.0"])
        self.assertEqual(self.c.put("/api/devices/%d" % dev_id, {"groups": ["Bad Group"]}).status, 400)
        self.assertEqual(self.c.put("/api/devices/%d" % dev_id, {"name": "", "groups": ["default"]}).status, 200)
        self.assertEqual(dig(self.h.dns_port, "kidsonly.test"), [UPSTREAM_ANSWER])
        self.c.delete("/api/rules/" + r.json()["id"])
        # A device the log does not have: 404, for a name and for groups.
        for body in ({"name": "x"}, {"groups": ["kids"]}):
            r = self.c.put("/api/devices/999999", body)
            self.assertEqual(r.status, 404, r.body)
            self.assertEqual(r.json()["error"], "no such device")

    def test_live_tail_streams_new_rows(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.h.http_port, timeout=10)
        conn.request("GET", "/api/log/stream?domain=livetail", headers={
            "Cookie": "hush_session=" + self.c.cookies["hush_session"]})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertIn("text/event-stream", resp.getheader("Content-Type"))
        time.sleep(0.7)  # the stream positions itself at the newest row first
        udp_query(self.h.dns_port, "one.livetail.test")
        deadline = time.time() + 10
        buf = b""
        while time.time() < deadline and b"one.livetail.test" not in buf:
            buf += resp.fp.readline()
        resp.close()
        conn.close()
        self.assertIn(b"event: query", buf)
        self.assertIn(b"one.livetail.test", buf)
        event = [l for l in buf.split(b"\n") if l.startswith(b"data: ") and b"livetail" in l][0]
        self.assertEqual(json.loads(event[6:])["domain"], "one.livetail.test")

    def test_live_tail_of_one_device(self):
        udp_query(self.h.dns_port, "me.devtail.test")
        mine = wait_until(lambda: self.logged_rows(domain="me.devtail.test"), what="my row")[0]
        conn = http.client.HTTPConnection("127.0.0.1", self.h.http_port, timeout=10)
        conn.request("GET", "/api/log/stream?device=%d&after=%d" % (mine["device_id"], mine["id"]), headers={
            "Cookie": "hush_session=" + self.c.cookies["hush_session"]})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        udp_query(self.h.dns_port, "other.devtail.test", source="127.0.0.9")
        udp_query(self.h.dns_port, "again.devtail.test")
        deadline = time.time() + 10
        buf = b""
        while time.time() < deadline and b"again.devtail.test" not in buf:
            buf += resp.fp.readline()
        resp.close()
        conn.close()
        self.assertIn(b"again.devtail.test", buf)
        self.assertNotIn(b"other.devtail.test", buf)
        self.assertNotIn(b"me.devtail.test", buf)  # only rows after the one given
        other = wait_until(lambda: self.logged_rows(domain="other.devtail.test"), what="the other row")[0]
        self.assertEqual(other["client"], "127.0.0.9")
        self.assertNotEqual(other["device_id"], mine["device_id"])

    def test_live_tail_slots_come_back_when_no_body_is_sent(self):
        # HEAD gets the live tail's head and never its body; neither that nor
        # a client gone before the body may keep one of the 4 slots.
        for _ in range(6):
            self.assertEqual(self.c.request("HEAD", "/api/log/stream").status, 200)
        conn = http.client.HTTPConnection("127.0.0.1", self.h.http_port, timeout=10)
        conn.request("GET", "/api/log/stream", headers={
            "Cookie": "hush_session=" + self.c.cookies["hush_session"]})
        resp = conn.getresponse()
        status = resp.status
        resp.close()
        conn.close()
        self.assertEqual(status, 200)

    def test_static_files_have_etags_and_answer_304(self):
        anon = self.h.client()
        for path in ("/", "/app.js", "/app.css", "/vendor/uPlot.iife.min.js"):
            r = anon.get(path)
            self.assertEqual(r.status, 200, path)
            etag = r.header("ETag")
            self.assertRegex(etag or "", r'^"[0-9a-f]{20}"$', path)
            self.assertEqual(r.header("Cache-Control"), "no-cache")
            again = anon.get(path, headers={"If-None-Match": etag})
            self.assertEqual(again.status, 304, path)
            self.assertEqual(again.body, b"")
            self.assertEqual(again.header("ETag"), etag)
            self.assertEqual(anon.get(path, headers={"If-None-Match": 'W/"0", ' + etag}).status, 304)
            self.assertEqual(anon.get(path, headers={"If-None-Match": '"0000"'}).status, 200)
        self.assertNotEqual(anon.get("/app.js").header("ETag"), anon.get("/app.css").header("ETag"))

    def test_lists_subscribe_update_remove(self):
        path = os.path.join(self.h.tmp, "sub.txt")
        with open(path, "w") as f:
            f.write("subscribed.test\n")
        cat = self.c.get("/api/lists/catalog").json()["entries"]
        self.assertGreater(len(cat), 3)
        self.assertTrue(all("id" in e and "url" in e for e in cat))
        r = self.c.post("/api/lists", {"url": "file://" + path, "name": "mine"})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["name"], "mine")
        # The entry count appears as soon as the copy is stored; the update
        # finishes a moment later, so wait for both.
        sub = wait_until(lambda: [s for s in self.c.get("/api/lists").json()["subscriptions"]
                                  if s["name"] == "mine" and s["entries"] == 1 and not s["update"]["running"]],
                         what="the list downloaded")
        self.assertEqual(sub[0]["update"]["running"], False)
        self.assertEqual(sub[0]["update"]["outcome"], "updated")
        wait_until(lambda: dig(self.h.dns_port, "subscribed.test") == ["0.0.0.0"], timeout=15, step=0.5,
                   what="the subscribed list to block")
        self.assertEqual(self.c.post("/api/lists/mine/update").status, 202)
        self.assertEqual(self.c.post("/api/lists/nothere/update").status, 404)
        self.assertEqual(self.c.delete("/api/lists/mine").status, 200)
        wait_until(lambda: dig(self.h.dns_port, "subscribed.test") == [UPSTREAM_ANSWER], timeout=15, step=0.5,
                   what="the list to be gone")

    def test_settings(self):
        s = self.c.get("/api/settings").json()
        self.assertEqual(s["upstreams"], ["127.0.0.1:%d" % self.h.upstream.port])
        self.assertEqual(s["blocking"]["mode"], "null")
        self.assertEqual(s["querylog"]["raw_retention_s"], 30 * 86400)


class LiveViewSlotsTest(unittest.TestCase):
    """A hush of its own: the test takes every live-view slot."""

    @classmethod
    def setUpClass(cls):
        cls.h = Hush()

    @classmethod
    def tearDownClass(cls):
        cls.h.stop()

    def test_live_tail_slot_comes_back_when_the_browser_leaves(self):
        h = self.h
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)
        # Live views opened and closed, as switching pages does: the server
        # notices each close at once (within a poll), not at the next
        # keep-alive 15 s later, so new views open right after.
        def open_stream():
            conn = http.client.HTTPConnection("127.0.0.1", h.http_port, timeout=10)
            conn.request("GET", "/api/log/stream", headers={
                "Cookie": "hush_session=" + c.cookies["hush_session"]})
            return conn, conn.getresponse()

        def close(opened):
            for conn, resp in opened:
                resp.close()
                conn.close()

        def open_four(within):
            # Four at once, once the views of earlier tests are gone.
            deadline = time.time() + within
            while True:
                opened = [open_stream() for _ in range(4)]
                if [r.status for _, r in opened] == [200] * 4 or time.time() > deadline:
                    return opened
                close(opened)
                time.sleep(0.1)

        opened = open_four(5)
        self.assertEqual([r.status for _, r in opened], [200] * 4)
        for _ in range(3):
            for _, resp in opened:
                resp.fp.readline()  # "retry: 2000": each stream is running
            close(opened)
            t0 = time.time()
            opened = open_four(5)
            self.assertEqual([r.status for _, r in opened], [200] * 4, "slots not back within 5 s")
            self.assertLess(time.time() - t0, 1.5)
        # All four taken: a fifth is refused, with a reason.
        conn, resp = open_stream()
        self.assertEqual(resp.status, 503)
        self.assertIn("too many live views", json.loads(resp.read())["error"])
        close([(conn, resp)])
        close(opened)


class LoginLimitTest(unittest.TestCase):
    def test_rate_limit_429(self):
        h = Hush()
        try:
            c = h.client()
            for _ in range(5):
                self.assertEqual(c.login("wrong password").status, 401)
            r = c.login(h.password)  # even the right one, for now
            self.assertEqual(r.status, 429)
            self.assertGreater(int(r.header("Retry-After")), 0)
            self.assertIn("retry_after", r.json())
            self.assertNotIn("hush_session", c.cookies)
        finally:
            h.stop()


class FirstStartTest(unittest.TestCase):
    def test_first_start_prints_a_password_once_and_rules_persist(self):
        h = Hush(set_password=False)
        try:
            line = [l for l in h.log().splitlines() if "dashboard password" in l]
            self.assertEqual(len(line), 1, h.log())
            password = line[0].rsplit(" ", 1)[1]
            self.assertGreaterEqual(len(password), 12)
            c = h.client()
            self.assertEqual(c.login(password).status, 200)
            self.assertEqual(c.post("/api/rules", {"kind": "deny", "pattern": "persist.test"}).status, 201)
            self.assertEqual(dig(h.dns_port, "persist.test"), ["0.0.0.0"])
            data_dir = h.data_dir
            h.proc.send_signal(15)
            h.proc.wait(timeout=10)
            # Same data directory: no new password, the rule still applies.
            h2 = Hush(set_password=False, data_dir=data_dir)
            try:
                self.assertNotIn("dashboard password", h2.log())
                self.assertEqual(dig(h2.dns_port, "persist.test"), ["0.0.0.0"])
                c2 = h2.client()
                self.assertEqual(c2.login(password).status, 200)
                self.assertEqual(c2.get("/api/summary").status, 200)
                # `hush passwd` from stdin replaces it.
                r = subprocess.run([harness.HUSH, "passwd", "--data-dir", data_dir], input="another secret\n",
                                   capture_output=True, text=True, timeout=20)
                self.assertEqual(r.returncode, 0, r.stderr)
                # It ends the sessions made under the old password.
                old_session = h2.client()
                old_session.cookies = dict(c2.cookies)
                self.assertEqual(old_session.get("/api/summary").status, 401)
                self.assertEqual(old_session.get("/api/session").json(), {"logged_in": False})
                self.assertEqual(h2.client().login(password).status, 401)
                self.assertEqual(h2.client().login("another secret").status, 200)
                r = subprocess.run([harness.HUSH, "passwd", "--data-dir", data_dir], input="short\n",
                                   capture_output=True, text=True, timeout=20)
                self.assertEqual(r.returncode, 2)
            finally:
                h2.stop()
        finally:
            h.stop()


if __name__ == "__main__":
    unittest.main()
