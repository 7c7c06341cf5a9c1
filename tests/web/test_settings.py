"""Settings changed from the dashboard's API: the configuration file edited in
place (comments kept) and checked as `hush check` does, live keys applied by
a reload, the others after /api/restart; "test this upstream"; local records;
lists switched off and on. One hush per class; loopback only.

Run: HUSH_BINARY=build/hush python3 -m unittest -v tests/web/test_settings.py
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HUSH, UPSTREAM_ANSWER, Hush, dig, free_port, udp_query, wait_until  # noqa: E402

NXDOMAIN = 3


def start_with_config(extra=""):
    """hush serve with a configuration file (and its ads list) of its own."""
    h = Hush(start=False)
    ads = os.path.join(h.tmp, "ads.txt")
    with open(ads, "w") as f:
        f.write("0.0.0.0 ads.settings.test\n")
    h.config = os.path.join(h.tmp, "hush.toml")
    with open(h.config, "w") as f:
        f.write("# written by hand\n[server]\nlisten = [\"127.0.0.1:%d\"]\n\n"
                "[upstream]\nservers = [\"127.0.0.1:%d\"]  # the fake one\n\n"
                "[blocking]\nmode = \"null\"  # keep this comment\n\n"
                "[[lists]]\nname = \"ads\"\npath = \"%s\"\n%s" % (h.dns_port, h.upstream.port, ads, extra))
    h.extra_args = ("--config", h.config)
    h.start()
    return h


def read(path):
    with open(path) as f:
        return f.read()


class ConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = start_with_config()
        cls.c = cls.h.client()
        assert cls.c.login(cls.h.password).status == 200

    @classmethod
    def tearDownClass(cls):
        cls.h.stop()

    def test_get_shows_the_files_values_and_which_apply_live(self):
        r = self.c.get("/api/config")
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual(j["file"], self.h.config)
        self.assertTrue(j["writable"])
        self.assertEqual(j["settings"]["blocking.mode"], {"value": "null", "live": True, "from_flags": False})
        self.assertFalse(j["settings"]["cache.max_entries"]["live"])
        self.assertEqual(j["settings"]["upstream.servers"]["value"], ["127.0.0.1:%d" % self.h.upstream.port])

    def test_a_bad_value_gets_hush_checks_words_and_the_file_stays(self):
        before = read(self.h.config)
        r = self.c.put("/api/config", {"changes": {"blocking.ttl": 999999}})
        self.assertEqual(r.status, 400)
        self.assertIn(self.h.config + ":", r.json()["error"])
        self.assertIn("blocking.ttl: expected an integer from 0 to 86400", r.json()["error"])
        self.assertEqual(read(self.h.config), before)
        # The same words `hush check` prints for that file.
        bad = os.path.join(self.h.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write(before.replace("[blocking]\n", "[blocking]\nttl = 999999\n"))
        out = subprocess.run([HUSH, "check", "--config", bad], capture_output=True, text=True, timeout=30)
        self.assertIn("blocking.ttl: expected an integer from 0 to 86400", out.stderr + out.stdout)
        r = self.c.put("/api/config", {"changes": {"server.data_dir": "/tmp/x"}})
        self.assertEqual(r.status, 400)
        self.assertIn("not a setting the dashboard changes", r.json()["error"])
        r = self.c.put("/api/config", {"changes": {"upstream.servers": ["bogus://x"]}})
        self.assertEqual(r.status, 400)
        self.assertIn("upstream.servers", r.json()["error"])

    def test_a_live_key_is_in_force_at_once_and_comments_stay(self):
        self.assertEqual(udp_query(self.h.dns_port, "ads.settings.test")[1], ["0.0.0.0"])
        r = self.c.put("/api/config", {"changes": {"blocking.mode": "nxdomain"}})
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertEqual(j["applied_live"], ["blocking.mode"])
        self.assertTrue(j["applied"])
        self.assertEqual(j["needs_restart"], [])
        self.assertEqual(udp_query(self.h.dns_port, "ads.settings.test")[0], NXDOMAIN)
        text = read(self.h.config)
        self.assertIn('mode = "nxdomain"  # keep this comment', text)
        self.assertIn("# written by hand", text)
        self.assertEqual(self.c.put("/api/config", {"changes": {"blocking.mode": "null"}}).status, 200)
        self.assertEqual(udp_query(self.h.dns_port, "ads.settings.test")[1], ["0.0.0.0"])

    def test_test_upstream_sends_one_query_through_that_server(self):
        r = self.c.post("/api/config/test-upstream",
                        {"server": "127.0.0.1:%d" % self.h.upstream.port, "name": "probe.settings.test"})
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertTrue(j["ok"], j)
        self.assertEqual(j["rcode"], "NOERROR")
        self.assertTrue(any(UPSTREAM_ANSWER in a for a in j["answers"]), j)
        self.assertGreater(j["latency_ms"], 0)
        # A port where nobody answers: an error, quickly, and hush keeps serving.
        r = self.c.post("/api/config/test-upstream", {"server": "127.0.0.1:%d" % free_port(), "name": "x.test"})
        self.assertFalse(r.json()["ok"])
        self.assertTrue(r.json()["error"])
        r = self.c.post("/api/config/test-upstream", {"server": "nonsense::::", "name": "x.test"})
        self.assertFalse(r.json()["ok"])
        self.assertEqual(dig(self.h.dns_port, "still.settings.test"), [UPSTREAM_ANSWER])

    def test_lists_switched_off_and_on_without_a_restart(self):
        j = self.c.get("/api/lists/switches").json()
        self.assertIn({"name": "ads", "source": "config", "enabled": True}, j["lists"])
        r = self.c.put("/api/lists/switches/ads", {"enabled": False})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["applied"])
        self.assertEqual(dig(self.h.dns_port, "ads.settings.test"), [UPSTREAM_ANSWER])
        self.assertIn('disabled_lists = ["ads"]', read(self.h.config))
        self.assertIn({"name": "ads", "source": "config", "enabled": False}, self.c.get("/api/lists/switches").json()["lists"])
        self.assertEqual(self.c.put("/api/lists/switches/ads", {"enabled": True}).status, 200)
        self.assertEqual(dig(self.h.dns_port, "ads.settings.test"), ["0.0.0.0"])
        self.assertNotIn("disabled_lists", read(self.h.config))


class RestartTest(unittest.TestCase):
    def test_a_restart_key_waits_for_restart_and_restart_brings_it(self):
        h = start_with_config()
        self.addCleanup(h.stop)
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)
        r = c.put("/api/config", {"changes": {"cache.max_entries": 1234}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["needs_restart"], ["cache.max_entries"])
        self.assertEqual(r.json()["pending_restart"], ["cache.max_entries"])
        self.assertTrue(r.json()["restart"]["possible"])
        self.assertIn("max_entries = 1234", read(h.config))
        pid = h.proc.pid
        r = c.post("/api/restart")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"restarting": True})
        # The same process (exec), serving again with the new value read.
        def restarted():
            try:
                fresh = h.client()
                if fresh.login(h.password).status != 200:
                    return None
                return fresh if fresh.get("/api/config").json()["pending_restart"] == [] else None
            except (OSError, ValueError):
                return None

        fresh = wait_until(restarted, timeout=30, what="hush back after its restart")
        self.assertIsNone(h.proc.poll())
        self.assertEqual(h.proc.pid, pid)
        self.assertIn("restarting", h.log())
        self.assertEqual(c.get("/api/config").status, 401, "sessions end with the old process")
        self.assertEqual(fresh.get("/api/config").json()["settings"]["cache.max_entries"]["value"], 1234)
        h.wait_ready()
        self.assertEqual(dig(h.dns_port, "after.settings.test"), [UPSTREAM_ANSWER])


class LocalRecordsTest(unittest.TestCase):
    def test_add_edit_remove_with_validation(self):
        h = start_with_config()
        self.addCleanup(h.stop)
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)
        r = c.post("/api/local", {"name": "nas.lan", "type": "A", "data": "192.0.2.10"})
        self.assertEqual(r.status, 201, r.body)
        r = c.post("/api/local", {"name": "files.lan", "type": "CNAME", "data": "nas.lan."})
        self.assertEqual(r.status, 201, r.body)
        bad = c.post("/api/local", {"name": "nas.lan", "type": "A", "data": "300.1.2.3"})
        self.assertEqual(bad.status, 400)
        self.assertIn("300.1.2.3", bad.json()["error"])
        self.assertEqual(c.post("/api/local", {"name": "nas.lan", "type": "A", "data": "192.0.2.10"}).status, 400)
        recs = c.get("/api/local").json()["records"]
        by_name = {x["name"]: x for x in recs}
        self.assertEqual(by_name["nas.lan"]["type"], "A")
        self.assertEqual(by_name["nas.lan"]["data"], "192.0.2.10")
        self.assertEqual(by_name["files.lan"]["type"], "CNAME")
        wait_until(lambda: dig(h.dns_port, "files.lan") == ["192.0.2.10"], what="the CNAME served")
        r = c.put("/api/local", {"line": by_name["nas.lan"]["line"], "name": "nas.lan", "type": "A", "data": "192.0.2.11"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(c.put("/api/local", {"line": "gone.lan A 192.0.2.1", "name": "x.lan", "type": "A",
                                              "data": "192.0.2.1"}).status, 404)
        wait_until(lambda: dig(h.dns_port, "nas.lan") == ["192.0.2.11"], what="the edited record served")
        r = c.post("/api/local/delete", {"line": by_name["files.lan"]["line"]})
        self.assertEqual(r.status, 200)
        self.assertEqual([x["name"] for x in c.get("/api/local").json()["records"]], ["nas.lan"])
        # `hush local ls` sees the dashboard's records: one file, one writer at a time.
        out = subprocess.run([HUSH, "local", "ls", "--data-dir", h.data_dir], capture_output=True, text=True, timeout=30)
        self.assertIn("192.0.2.11", out.stdout)


class GroupsTest(unittest.TestCase):
    def test_a_group_made_renamed_with_its_devices_and_lists(self):
        h = start_with_config()
        self.addCleanup(h.stop)
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)
        kid, parent = "127.0.0.2", "127.0.0.3"
        self.assertEqual(udp_query(h.dns_port, "hello.settings.test", source=kid)[1], [UPSTREAM_ANSWER])
        self.assertEqual(udp_query(h.dns_port, "hello.settings.test", source=parent)[1], [UPSTREAM_ANSWER])

        def ids():
            found = {a: d["id"] for d in c.get("/api/devices").json()["devices"] for a in d["addresses"]}
            return found if kid in found and parent in found else None

        found = wait_until(ids, what="both devices in the log")
        games = os.path.join(h.tmp, "games.txt")
        with open(games, "w") as f:
            f.write("game.settings.test\n")
        r = c.post("/api/lists", {"url": "file://" + games, "name": "games", "groups": ["default"]})
        self.assertEqual(r.status, 201, r.body)
        wait_until(lambda: udp_query(h.dns_port, "game.settings.test", source=parent)[1] == ["0.0.0.0"],
                   what="the list in force")
        # kids: the kid's device; adults: the parent's; games for default and kids.
        self.assertEqual(c.put("/api/groups/kids", {"devices": [found[kid]]}).status, 200)
        self.assertEqual(c.put("/api/groups/adults", {"devices": [found[parent]]}).status, 200)
        r = c.put("/api/groups/kids", {"lists": ["games"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["applied"])
        self.assertEqual(c.put("/api/groups/kids", {"lists": ["nope"]}).status, 404)
        # games now applies to default and kids; the parent is in adults only.
        self.assertEqual(udp_query(h.dns_port, "game.settings.test", source=kid)[1], ["0.0.0.0"])
        self.assertEqual(udp_query(h.dns_port, "game.settings.test", source=parent)[1], [UPSTREAM_ANSWER])
        r = c.post("/api/groups/kids/rename", {"to": "children"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["devices"], r.json()["lists"]), (1, 1))
        self.assertEqual(c.post("/api/groups/children/rename", {"to": "adults"}).status, 409)
        self.assertEqual(c.post("/api/groups/nobody/rename", {"to": "x"}).status, 404)
        self.assertEqual(c.put("/api/groups/device-3", {"devices": []}).status, 400)
        groups = {g["name"]: g for g in c.get("/api/groups").json()["groups"]}
        self.assertNotIn("kids", groups)
        self.assertEqual([d["id"] for d in groups["children"]["devices"]], [found[kid]])
        self.assertIn("games", groups["children"]["lists"])
        self.assertEqual(udp_query(h.dns_port, "game.settings.test", source=kid)[1], ["0.0.0.0"])
        self.assertEqual(udp_query(h.dns_port, "game.settings.test", source=parent)[1], [UPSTREAM_ANSWER])
        # A list never loses its last group.
        self.assertEqual(c.put("/api/groups/default", {"lists": []}).status, 200)
        self.assertEqual(c.put("/api/groups/children", {"lists": []}).status, 400)


if __name__ == "__main__":
    unittest.main()
