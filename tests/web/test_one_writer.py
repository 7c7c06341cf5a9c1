"""One writer at a time for the files the running server and the CLI both
change: web-auth.json (first start, the API's tokens, `hush token`), the
schedules (`hush schedule add`), local records (`hush local add`) and the
configuration file (the dashboard's settings and list switches, `hush lists
enable|disable`). Each race runs both sides at once and then checks that no
write was lost. Loopback only; every race is bounded.

Run: HUSH_BINARY=build/hush python3 -m unittest -v tests/web/test_one_writer.py
"""
import json
import os
import subprocess
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HUSH, Hush, wait_until  # noqa: E402


def cli(*args, input_text=None):
    return subprocess.run([HUSH, *args], input=input_text, capture_output=True, text=True, timeout=60)


def token_names(data_dir):
    r = cli("token", "ls", "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr
    return r.stdout


class AuthFileTest(unittest.TestCase):
    def test_token_created_while_the_first_start_writes_the_password(self):
        # The first start writes the new password's hash while the CLI writes a token.
        for round_ in range(5):
            h = Hush(set_password=False, start=False)
            self.addCleanup(h.stop)
            with ThreadPoolExecutor(2) as pool:
                started = pool.submit(h.start)
                made = pool.submit(cli, "token", "create", "race%d" % round_, "--data-dir", h.data_dir)
                started.result()
                r = made.result()
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(h.data_dir, "web-auth.json")) as f:
                state = json.load(f)
            self.assertTrue(state["password"], "the password hash was lost")
            self.assertIn("race%d" % round_, [t["name"] for t in state["tokens"]], "the token was lost")
            h.stop()

    def test_api_and_cli_tokens_in_200_races(self):
        h = Hush()
        self.addCleanup(h.stop)
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)

        def via_api(name):
            r = c.post("/api/tokens", {"name": name})
            return r.status == 201

        def via_cli(name):
            return cli("token", "create", name, "--data-dir", h.data_dir).returncode == 0

        for round_ in range(4):
            names = ["r%d-%d" % (round_, i) for i in range(50)]
            with ThreadPoolExecutor(16) as pool:
                ok = list(pool.map(lambda n: (via_api if int(n.split("-")[1]) % 2 else via_cli)(n), names))
            self.assertTrue(all(ok), ok)
            listed = {t["name"]: t["id"] for t in c.get("/api/tokens").json()["tokens"]}
            self.assertEqual(sorted(n for n in listed if n.startswith("r%d-" % round_)), sorted(names),
                             "round %d lost tokens" % round_)
            for name in names:
                self.assertEqual(c.delete("/api/tokens/" + listed[name]).status, 200)


class SchedulesFileTest(unittest.TestCase):
    def test_api_and_cli_schedules_in_40_races(self):
        h = Hush()
        self.addCleanup(h.stop)
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)

        def via_api(name):
            r = c.post("/api/schedules", {"windows": [{"days": "sat", "from": "01:00", "to": "02:00"}],
                                          "rules": ["||%s.test^" % name]})
            return r.status == 201

        def via_cli(name):
            return cli("schedule", "add", "--days", "sat", "--from", "01:00", "--to", "02:00",
                       "--block", "||%s.test^" % name, "--data-dir", h.data_dir).returncode == 0

        names = ["s%d" % i for i in range(40)]
        with ThreadPoolExecutor(16) as pool:
            ok = list(pool.map(lambda n: (via_api if int(n[1:]) % 2 else via_cli)(n), names))
        self.assertTrue(all(ok), ok)
        listed = [r for s in c.get("/api/schedules").json()["schedules"] for r in s["rules"]]
        self.assertEqual(sorted(listed), sorted("||%s.test^" % n for n in names), "schedules were lost")


class LocalRecordsTest(unittest.TestCase):
    def test_parallel_local_adds_keep_every_line(self):
        h = Hush()
        self.addCleanup(h.stop)
        lines = ["host%d.lan A 192.0.2.%d" % (i, i + 1) for i in range(40)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda l: cli("local", "add", *l.split(), "--data-dir", h.data_dir), lines))
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr)
        listed = cli("local", "ls", "--data-dir", h.data_dir).stdout
        for i in range(40):
            self.assertIn("host%d.lan" % i, listed)
        # The running server takes them all over too.
        wait_until(lambda: "192.0.2.40" in subprocess.run(
            ["dig", "@127.0.0.1", "-p", str(h.dns_port), "+short", "host39.lan", "A"],
            capture_output=True, text=True, timeout=10).stdout, what="the last record served")


class ConfigFileTest(unittest.TestCase):
    def test_api_and_cli_switching_lists_at_once_lose_nothing(self):
        h = Hush(start=False)
        self.addCleanup(h.stop)
        config = os.path.join(h.tmp, "hush.toml")
        with open(config, "w") as f:
            f.write("# kept\n[upstream]\nservers = [\"127.0.0.1:%d\"]  # kept too\n" % h.upstream.port)
        h.extra_args = ("--config", config)
        h.start()
        c = h.client()
        self.assertEqual(c.login(h.password).status, 200)

        def via_api(name):
            return c.put("/api/lists/switches/" + name, {"enabled": False}).status == 200

        def via_cli(name):
            r = cli("lists", "disable", name, "--config", config, "--data-dir", h.data_dir)
            return r.returncode == 0 or r.stderr

        names = ["race%d" % i for i in range(24)]
        with ThreadPoolExecutor(12) as pool:
            ok = list(pool.map(lambda n: (via_api if int(n[4:]) % 2 else via_cli)(n), names))
        self.assertEqual(ok, [True] * len(names))
        with open(config) as f:
            text = f.read()
        self.assertIn("# kept\n", text)
        self.assertIn("# kept too", text)
        off = text[text.index("disabled_lists"):].split("\n")[0]
        for n in names:
            self.assertIn('"%s"' % n, off, "lost the switch of " + n)


if __name__ == "__main__":
    unittest.main()
