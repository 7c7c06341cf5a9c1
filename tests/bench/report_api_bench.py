"""Response times of the dashboard's phone-home endpoints (/api/report/...)
on a large query log, measured over HTTP against `hush serve` as the
dashboard calls them.

    python3 tests/bench/report_api_bench.py HUSH_BINARY DATA_DIR [RUNS=10]

DATA_DIR holds a hush.db, for example the one hush_report_bench leaves
(50 devices, 30 days, 10 million queries by default). The periods asked for
are the log's own last 30 days, 7 days and day, whenever they were. hush
runs on loopback ports with a throw-away password; the data directory gets
its web-auth.json. Retention is set to ten years for the run, so hush does
not prune an old log while it is measured. Each endpoint is asked once cold, then RUNS times; the
median and the slowest of those are printed. The overview and a company's
devices are kept for a minute by the dashboard, so their repeats measure
that cache and their cold figure the query log. Last, every endpoint is
asked by four clients at once (with times that miss the dashboard's cache)
and hush's resident memory is printed before and after.
"""
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web"))
import harness  # noqa: E402


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    harness.HUSH = sys.argv[1]
    data_dir = sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    db = os.path.join(data_dir, "hush.db")
    if not os.path.exists(db):
        print("no hush.db in " + data_dir, file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write("[querylog]\nretention_days = 3650\naggregate_retention_days = 3650\n")
    h = harness.Hush(data_dir=data_dir, extra_args=("--config", cfg.name))
    try:
        c = h.client()
        assert c.login(h.password).status == 200
        # Not the harness's own readiness query from 127.0.0.1, which is now.
        devices = [d for d in c.get("/api/devices?range=3650d", timeout=120).json()["devices"]
                   if not any(a.startswith("127.") for a in d["addresses"])]
        until = max(d["last_seen_ms"] for d in devices) / 1000 + 1
        device = max(devices, key=lambda d: d["queries"])["id"]
        day, week, month = until - 86400, until - 7 * 86400, until - 30 * 86400
        print("log: %.0f MB, %d devices" % (os.path.getsize(db) / 1e6, len(devices)))

        def q(**p):
            return "?" + urllib.parse.urlencode(p)

        def cases_until(until):
            return [
                ("overview, 30 days", "/api/report" + q(since=month, until=until)),
                ("overview, 7 days", "/api/report" + q(since=week, until=until)),
                ("one device, 30 days", "/api/report" + q(device=device, since=month, until=until)),
                ("one device, 1 day", "/api/report" + q(device=device, since=day, until=until)),
                ("devices of xiaomi, 30 days", "/api/report/companies/xiaomi" + q(since=month, until=until)),
                ("xiaomi per day, one device, 30 days",
                 "/api/report/history" + q(company="xiaomi", device=device, since=month, until=until)),
                ("xiaomi per hour, one device, 1 day (raw rows)",
                 "/api/report/history" + q(company="xiaomi", device=device, since=day, until=until)),
                ("first contacts, every device, 1 day", "/api/report/new" + q(since=day, limit=50)),
            ]

        cases = cases_until(until)
        print("%-48s %9s %9s %9s %9s" % ("endpoint", "cold ms", "median ms", "max ms", "KiB"))
        for name, path in cases:
            times = []
            size = 0
            for i in range(runs + 1):
                t0 = time.perf_counter()
                r = c.get(path, timeout=120)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, (path, r.status, r.body[:300])
                size = len(r.body)
            warm = times[1:]
            print("%-48s %9.1f %9.1f %9.1f %9.1f" % (name, times[0], statistics.median(warm), max(warm), size / 1024))

        def rss_mib():
            with open("/proc/%d/status" % h.proc.pid) as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024

        before = rss_mib()
        failures = []

        def ask_all(shift):
            cl = h.client()
            cl.login(h.password)
            for name, path in cases_until(until + 1 + shift):
                r = cl.get(path, timeout=300)
                if r.status != 200:
                    failures.append((name, r.status))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=ask_all, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("4 clients at once, %d requests each: %.1f s, RSS %.0f -> %.0f MiB, %d failed"
              % (len(cases), time.perf_counter() - t0, before, rss_mib(), len(failures)))
    finally:
        h.stop()
        os.unlink(cfg.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
