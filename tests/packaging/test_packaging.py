#!/usr/bin/env python3
"""Packaging tests for hush: the .deb built by CPack, its maintainer scripts,
its systemd unit, and the packaged binary run with the packaged configuration.

The package is extracted with `dpkg -x` into a temporary root; nothing is
installed on the machine. hush listens on 127.0.0.1 ports chosen here and
forwards to a fake upstream in this process (answers A 192.0.2.1; names
starting with "slow" are answered after a delay).

Environment: HUSH_DEB_DIR (where `cpack -G DEB` put the package),
HUSH_SOURCE_DIR, HUSH_VERSION.
"""
import glob
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

DEB_DIR = os.environ.get("HUSH_DEB_DIR", "")
SOURCE_DIR = os.environ.get("HUSH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
VERSION = os.environ.get("HUSH_VERSION", "")
FAKE_A = "192.0.2.1"


def read(path):
    with open(path) as f:
        return f.read()


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw)


_handed_out = set()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, never one handed out
    before in this process: the kernel may give a port it just freed to the
    next bind(0), and DNS and HTTP on one port would turn hush's HTTP off."""
    for _ in range(200):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            if port in _handed_out:
                continue
            t.bind(("127.0.0.1", port))
            _handed_out.add(port)
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def tcp_listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---- DNS on the wire, just enough for these tests ----

def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def build_query(qid, name, qtype=1):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", qtype, 1)


def read_name(msg, off):
    labels = []
    jumped = False
    end = off
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode())
        off += n
    return ".".join(labels), (end if jumped else off)


def parse_reply(msg):
    """(id, rcode, [A addresses])"""
    qid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    addrs = []
    for _ in range(an):
        _, off = read_name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return qid, flags & 0xF, addrs


def ask(port, name, timeout=2.0, qtype=1):
    """One UDP query to hush; (rcode, addresses) or None when no answer came."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    qid = int.from_bytes(os.urandom(2), "big")
    try:
        s.sendto(build_query(qid, name, qtype), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data, _ = s.recvfrom(4096)
            rid, rcode, addrs = parse_reply(data)
            if rid == qid:
                return rcode, addrs
    except (socket.timeout, ConnectionRefusedError):
        return None
    finally:
        s.close()
    return None


class FakeUpstream:
    """Answers every A question with 192.0.2.1 (TTL 1, so the cache does not
    hide later queries); other types get NODATA. Names starting with "slow"
    are answered after `slow_s` seconds."""

    def __init__(self, slow_s=0.8):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.slow_s = slow_s
        self.seen = []
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def reply(self, query):
        qid, flags, qd = struct.unpack(">HHH", query[:6])
        name, off = read_name(query, 12)
        qtype, qclass = struct.unpack(">HH", query[off:off + 4])
        question = query[12:off + 4]
        answers = b""
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 1, 4) + socket.inet_aton(FAKE_A)
        header = struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if answers else 0, 0, 0)
        return name, header + question + answers

    def loop(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                name, out = self.reply(data)
            except Exception:
                continue
            self.seen.append(name)
            if name.startswith("slow"):
                threading.Timer(self.slow_s, self.sock.sendto, (out, addr)).start()
            else:
                self.sock.sendto(out, addr)

    def close(self):
        self.stopping = True
        self.sock.close()


class Hush:
    """The packaged hush binary, running with a configuration file."""

    def __init__(self, root, config, workdir, port, upstream_port, extra=(), http_port=None):
        self.port = port
        self.http_port = http_port or free_port()
        self.data = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, "hush-%d.log" % port)
        self.log = open(self.log_path, "w")
        cmd = [os.path.join(root, "usr/bin/hush"), "serve", "--config", config,
               "--listen", "127.0.0.1:%d" % port, "--data-dir", self.data,
               "--upstream", "127.0.0.1:%d" % upstream_port, "--threads", "2",
               "--http", "127.0.0.1:%d" % self.http_port] + list(extra)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        """Waits for every listener the tests use: DNS over UDP and TCP, and HTTP."""
        deadline = time.monotonic() + timeout
        dns = tcp = http = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("hush exited with %d:\n%s" % (self.proc.returncode, self.output()))
            dns = dns or bool(ask(self.port, "ready.example", timeout=0.3))
            tcp = tcp or tcp_listening(self.port)
            http = http or tcp_listening(self.http_port)
            if dns and tcp and http:
                return
            time.sleep(0.05)
        raise AssertionError("hush did not open its listeners within %ds (udp %s, tcp %s, http %s):\n%s"
                             % (timeout, dns, tcp, http, self.output()))

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5) as r:
            return r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        debs = sorted(glob.glob(os.path.join(DEB_DIR, "hush_*.deb")), key=os.path.getmtime)
        if not debs:
            raise unittest.SkipTest("no hush_*.deb in HUSH_DEB_DIR=%r (run the packaging_deb test)" % DEB_DIR)
        cls.deb = debs[-1]
        cls.tmp = tempfile.mkdtemp(prefix="hush-pkg-")
        os.chmod(cls.tmp, 0o755)  # the privilege test's user must reach its data dir
        cls.root = os.path.join(cls.tmp, "root")
        r = run(["dpkg-deb", "-x", cls.deb, cls.root])
        assert r.returncode == 0, r.stderr
        cls.config = os.path.join(cls.root, "etc/hush/hush.toml")
        cls.upstream = FakeUpstream()

    @classmethod
    def tearDownClass(cls):
        cls.upstream.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def workdir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        return d

    def start(self, name, config=None, extra=()):
        h = Hush(self.root, config or self.config, self.workdir(name), free_port(), self.upstream.port, extra)
        self.addCleanup(h.stop)
        h.wait_ready()
        return h

    # ---- the package itself ----

    def test_metadata_and_dependencies(self):
        fields = {}
        for f in ("Package", "Version", "Architecture", "Depends", "Section", "Maintainer", "Description"):
            r = run(["dpkg-deb", "-f", self.deb, f])
            self.assertEqual(r.returncode, 0, r.stderr)
            fields[f] = r.stdout.strip()
        self.assertEqual(fields["Package"], "hush")
        if VERSION:
            self.assertEqual(fields["Version"], VERSION + "-1")
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(fields["Architecture"], arch)
        depends = [d.strip().split(" ")[0] for d in fields["Depends"].split(",")]
        print("Depends:", fields["Depends"])
        for lib in ("libc6", "libstdc++6", "libuv1", "libldns3", "libcpp-httplib0.11", "liboath0", "libqrencode4", "adduser", "dns-root-data", "ca-certificates", "tzdata"):
            self.assertIn(lib, depends, fields["Depends"])
        # Only runtime libraries: no -dev packages, no build tools.
        self.assertFalse([d for d in depends if d.endswith("-dev")], fields["Depends"])

    def test_files_are_where_debian_puts_them(self):
        r = run(["dpkg-deb", "-c", self.deb])
        self.assertEqual(r.returncode, 0, r.stderr)
        files, dirs = {}, set()
        for line in r.stdout.splitlines():
            parts = line.split()
            mode, owner, path = parts[0], parts[1], parts[5]
            self.assertEqual(owner, "root/root", line)
            if mode.startswith("d"):
                dirs.add(path.rstrip("/"))
            else:
                files[path] = mode
        self.assertEqual(set(files), {
            "./usr/bin/hush",
            "./lib/systemd/system/hush.service",
            "./etc/hush/hush.toml",
            "./usr/share/doc/hush/copyright",
            "./usr/share/doc/hush/changelog.Debian.gz",
            "./usr/share/man/man8/hush.8.gz",
        })
        self.assertEqual(files["./usr/bin/hush"], "-rwxr-xr-x")
        for path, mode in files.items():
            if path != "./usr/bin/hush":
                self.assertEqual(mode, "-rw-r--r--", path)
        allowed = {".", "./usr", "./usr/bin", "./usr/share", "./usr/share/doc", "./usr/share/doc/hush",
                   "./usr/share/man", "./usr/share/man/man8",
                   "./lib", "./lib/systemd", "./lib/systemd/system", "./etc", "./etc/hush"}
        self.assertEqual(dirs - allowed, set())
        # Stripped: no debug sections in the shipped binary.
        r = run(["readelf", "-S", os.path.join(self.root, "usr/bin/hush")])
        if r.returncode == 0:
            self.assertNotIn(".debug_info", r.stdout)

    def test_conffiles_and_maintainer_scripts(self):
        ctrl = os.path.join(self.tmp, "control")
        r = run(["dpkg-deb", "-e", self.deb, ctrl])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/hush/hush.toml"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctrl, script)
            self.assertTrue(os.path.exists(path), script)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755, script)
            r = run(["sh", "-n", path])
            self.assertEqual(r.returncode, 0, script + ": " + r.stderr)
        with open(os.path.join(ctrl, "md5sums")) as f:
            self.assertIn("usr/bin/hush", f.read())

    def run_script(self, script, args, dpkg_root, stubs, log):
        env = dict(os.environ, PATH=stubs + ":" + os.environ["PATH"], DPKG_ROOT=dpkg_root,
                   STUB_LOG=log)
        return run(["sh", "-e", script] + args, env=env)

    def test_maintainer_scripts_create_user_and_purge_data(self):
        """postinst/postrm run against a DPKG_ROOT with stubbed adduser,
        getent, chown and deb-systemd-helper that record their calls."""
        ctrl = os.path.join(self.tmp, "control-run")
        run(["dpkg-deb", "-e", self.deb, ctrl])
        base = self.workdir("scripts")
        stubs, dpkg_root, log = os.path.join(base, "stubs"), os.path.join(base, "target"), os.path.join(base, "calls")
        os.makedirs(stubs, exist_ok=True)
        os.makedirs(dpkg_root, exist_ok=True)
        for tool, rc in (("adduser", 0), ("useradd", 0), ("getent", 2), ("chown", 0),
                         ("deb-systemd-helper", 0), ("deb-systemd-invoke", 0), ("systemctl", 0)):
            with open(os.path.join(stubs, tool), "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >> "$STUB_LOG"\nexit %d\n' % (tool, rc))
            os.chmod(os.path.join(stubs, tool), 0o755)

        r = self.run_script(os.path.join(ctrl, "postinst"), ["configure", ""], dpkg_root, stubs, log)
        self.assertEqual(r.returncode, 0, r.stderr)
        calls = read(log)
        self.assertRegex(calls, r"adduser --system --group .*hush")
        self.assertIn("chown hush:hush %s/var/lib/hush" % dpkg_root, calls)
        data = os.path.join(dpkg_root, "var/lib/hush")
        self.assertTrue(os.path.isdir(data))
        self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o750)
        # Enabled for the next boot; with DPKG_ROOT set nothing talks to a running systemd.
        self.assertIn("deb-systemd-helper enable hush.service", calls)
        self.assertNotIn("deb-systemd-invoke", calls)
        self.assertNotIn("systemctl", calls)

        # An upgrade (postinst configure OLD-VERSION) does not create the user again
        # when it exists, nor enable a service the admin may have disabled.
        with open(os.path.join(stubs, "getent"), "w") as f:
            f.write('#!/bin/sh\necho "getent $*" >> "$STUB_LOG"\necho "hush:x:999:999::/var/lib/hush:/usr/sbin/nologin"\n')
        open(log, "w").close()
        r = self.run_script(os.path.join(ctrl, "postinst"), ["configure", "0.0.9-1"], dpkg_root, stubs, log)
        self.assertEqual(r.returncode, 0, r.stderr)
        calls = read(log)
        self.assertNotIn("adduser", calls)
        self.assertNotIn("enable", calls)

        r = self.run_script(os.path.join(ctrl, "prerm"), ["upgrade", "0.1.1-1"], dpkg_root, stubs, log)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_script(os.path.join(ctrl, "postrm"), ["remove"], dpkg_root, stubs, log)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(data), "remove keeps the data")
        self.assertIn("deb-systemd-helper mask hush.service", read(log))
        r = self.run_script(os.path.join(ctrl, "postrm"), ["purge"], dpkg_root, stubs, log)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(data), "purge removes /var/lib/hush")
        self.assertIn("deb-systemd-helper purge hush.service", read(log))

    def test_lintian(self):
        """lintian (when installed): no errors, and no warnings but the one
        every package outside the Debian archive gets."""
        if not shutil.which("lintian"):
            self.skipTest("lintian missing (apt-get install lintian)")
        r = run(["lintian", "--tag-display-limit", "0", self.deb], timeout=120)
        tags = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
        allowed = ("initial-upload-closes-no-bugs",)
        unexpected = [t for t in tags if not any(a in t for a in allowed)]
        self.assertEqual(unexpected, [], r.stdout + r.stderr)

    def test_systemd_unit_verifies(self):
        """systemd-analyze verify needs the ExecStart binaries to exist, and
        this container has no /usr/bin/hush: verify a copy of the packaged
        unit whose /usr/bin/hush points at the extracted one, with MANPATH
        at the package's manual pages (verify runs `man hush.8` for
        Documentation=). verify exits 0 even for unknown keys or bad values
        (it only prints them), so any output at all fails the test. Then
        `systemd-analyze security --offline` scores the sandboxing."""
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze missing (apt-get install systemd)")
        unit = read(os.path.join(self.root, "lib/systemd/system/hush.service"))
        for key in ("User=hush", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "StateDirectory=hush",
                    "ConfigurationDirectory=hush", "ProtectSystem=strict", "ProtectHome=yes",
                    "NoNewPrivileges=yes", "PrivateTmp=yes",
                    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
                    "ExecReload=/bin/kill -HUP $MAINPID", "WantedBy=multi-user.target"):
            self.assertIn("\n" + key + "\n", unit)
        d = self.workdir("unit")
        path = os.path.join(d, "hush.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/bin/hush", os.path.join(self.root, "usr/bin/hush")))
        # verify also runs `man` for Documentation=man:hush(8): find it in the package.
        r = run(["systemd-analyze", "verify", path],
                env=dict(os.environ, MANPATH=os.path.join(self.root, "usr/share/man")))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "systemd-analyze verify complained")
        r = run(["systemd-analyze", "security", "--offline=yes", path])
        m = re.search(r"Overall exposure level for hush.service: ([0-9.]+)", r.stdout + r.stderr)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLess(float(m.group(1)), 3.0, "the sandboxing got weaker:\n" + r.stdout)

    # ---- the packaged binary with the packaged configuration ----

    def test_default_config_passes_check(self):
        text = read(self.config)
        self.assertRegex(text, r'(?m)^listen = \["0\.0\.0\.0:53", "\[::\]:53"\]')
        self.assertRegex(text, r'(?m)^data_dir = "/var/lib/hush"')
        self.assertNotRegex(text, r"(?m)^\[http\]")
        hush = os.path.join(self.root, "usr/bin/hush")
        # The check reads /etc/resolv.conf for upstreams; name one so the
        # result does not depend on this machine.
        cfg = os.path.join(self.workdir("check"), "hush.toml")
        with open(cfg, "w") as f:
            f.write(text.replace("servers = []", 'servers = ["192.0.2.53"]'))
        r = run([hush, "check", "--config", cfg])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)
        # An upstream that is hush itself is caught.
        with open(cfg, "w") as f:
            f.write(text.replace("servers = []", 'servers = ["127.0.0.1"]'))
        r = run([hush, "check", "--config", cfg])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("is hush itself", r.stderr)

    def test_serves_queries_and_metrics(self):
        h = self.start("serve")
        r = run(["dig", "@127.0.0.1", "-p", str(h.port), "+short", "+time=2", "+tries=1", "www.example.com", "A"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), [FAKE_A], h.output())
        r = run(["dig", "@127.0.0.1", "-p", str(h.port), "+time=2", "+tries=1", "use-application-dns.net"])
        self.assertIn("status: NXDOMAIN", r.stdout)  # the Firefox DoH canary
        m = h.metrics()
        self.assertGreaterEqual(metric(m, "hush_queries_total", '{transport="udp"}'), 2)
        self.assertGreaterEqual(metric(m, "hush_queries_by_type_total", '{type="A"}'), 2)
        self.assertGreaterEqual(metric(m, "hush_query_outcomes_total", '{outcome="blocked"}'), 1)
        up = '{upstream="127.0.0.1:%d"' % self.upstream.port
        self.assertGreaterEqual(metric(m, "hush_upstream_latency_seconds_count", up + "}"), 1)
        self.assertGreaterEqual(metric(m, "hush_upstream_latency_seconds_bucket", up + ',le="+Inf"}'), 1)
        self.assertIsNotNone(metric(m, "hush_blocklist_names"))
        self.assertEqual(metric(m, "hush_build_info", '{version="%s"}' % VERSION) if VERSION else 1, 1)
        # One line per event, none per query.
        self.assertNotIn("www.example.com", h.output())

    def test_sighup_applies_new_config_without_losing_queries(self):
        d = self.workdir("sighup")
        cfg = os.path.join(d, "hush.toml")
        text = read(self.config)
        shutil.copy(self.config, cfg)
        h = self.start("sighup", config=cfg)
        self.assertEqual(ask(h.port, "ads.example"), (0, [FAKE_A]))

        results, stop = [], threading.Event()

        def hammer():
            i = 0
            while not stop.is_set():
                results.append(ask(h.port, "q%d.example" % i, timeout=2.0))
                i += 1

        t = threading.Thread(target=hammer)
        t.start()
        seen = {}
        try:
            time.sleep(0.3)
            # A new deny entry, and a key that needs a restart.
            with open(cfg, "w") as f:
                f.write(text.replace("deny = []", 'deny = ["ads.example"]')
                            .replace("# max_entries = 100000", "max_entries = 5000"))
            for _ in range(3):
                h.proc.send_signal(signal.SIGHUP)
                time.sleep(0.3)
            seen["deny"] = ask(h.port, "ads.example")
            # A [blocking] setting: the sinkhole answer becomes NXDOMAIN.
            with open(cfg, "w") as f:
                f.write(text.replace("deny = []", 'deny = ["ads.example"]')
                            .replace('# mode = "null"', 'mode = "nxdomain"'))
            h.proc.send_signal(signal.SIGHUP)
            time.sleep(0.4)
            seen["mode"] = ask(h.port, "ads.example")
            # A broken file is refused as a whole; the settings in force stay.
            with open(cfg, "w") as f:
                f.write(text.replace("deny = []", "deny = ["))
            h.proc.send_signal(signal.SIGHUP)
            time.sleep(0.4)
            seen["broken"] = ask(h.port, "ads.example")
        finally:
            stop.set()
            t.join()
        lost = [r for r in results if r is None or r[0] != 0]
        self.assertGreater(len(results), 20)
        self.assertEqual(lost, [], "%d of %d queries lost during reloads\n%s" % (len(lost), len(results), h.output()))
        self.assertEqual(seen["deny"], (0, ["0.0.0.0"]), h.output())
        self.assertEqual(seen["mode"], (3, []), h.output())
        self.assertEqual(seen["broken"], (3, []), h.output())
        out = h.output()
        self.assertIn("cache.max_entries changed; that needs a restart", out)
        self.assertIn("reload failed", out)
        m = h.metrics()
        self.assertEqual(metric(m, "hush_config_reloads_total", '{result="ok"}'), 4)
        self.assertEqual(metric(m, "hush_config_reloads_total", '{result="failed"}'), 1)
        self.assertIsNone(h.proc.poll())

    def test_sigterm_answers_in_flight_and_exits_0(self):
        h = self.start("sigterm")
        box = {}

        def slow_query():
            box["answer"] = ask(h.port, "slow-%d.example" % h.port, timeout=5)

        t = threading.Thread(target=slow_query)
        t.start()
        deadline = time.monotonic() + 3
        while "slow-%d.example" % h.port not in self.upstream.seen and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertIn("slow-%d.example" % h.port, self.upstream.seen, "the query never reached the upstream")
        h.proc.send_signal(signal.SIGTERM)
        t.join()
        self.assertEqual(h.proc.wait(10), 0, h.output())
        self.assertEqual(box.get("answer"), (0, [FAKE_A]), h.output())
        self.assertIn("received SIGTERM, stopping", h.output())
        self.assertIsNone(ask(h.port, "after.example", timeout=0.5), "still answering after SIGTERM")

    def test_busy_port_names_its_owner(self):
        port = free_port()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # no SO_REUSEPORT
        blocker.bind(("127.0.0.1", port))
        self.addCleanup(blocker.close)
        comm = read("/proc/self/comm").strip()
        r = run([os.path.join(self.root, "usr/bin/hush"), "serve", "--config", self.config,
                 "--listen", "127.0.0.1:%d" % port, "--data-dir", os.path.join(self.workdir("busy"), "data"),
                 "--upstream", "127.0.0.1:%d" % self.upstream.port, "--http", ""], timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("127.0.0.1:%d" % port, r.stderr)
        self.assertIn("%s (pid %d)" % (comm, os.getpid()), r.stderr)

    def test_started_as_root_runs_as_server_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        d = self.workdir("privdrop")
        cfg = os.path.join(d, "hush.toml")
        text = read(self.config)
        self.assertIn('# user = "hush"', text)
        with open(cfg, "w") as f:
            f.write(text.replace('# user = "hush"', 'user = "nobody"'))
        os.chmod(cfg, 0o644)
        h = self.start("privdrop", config=cfg)
        status = read("/proc/%d/status" % h.proc.pid)
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
        groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
        nobody = int(run(["id", "-u", "nobody"]).stdout)
        self.assertEqual(uids, [str(nobody)] * 4, status)
        self.assertNotIn("0", gids)
        self.assertNotIn("0", groups)
        self.assertEqual(int(re.search(r"^CapEff:\s+(\S+)$", status, re.M).group(1), 16), 0)
        self.assertEqual(ask(h.port, "after-drop.example"), (0, [FAKE_A]))
        self.assertEqual(os.stat(h.data).st_uid, nobody)
        for f in os.listdir(h.data):
            self.assertEqual(os.lstat(os.path.join(h.data, f)).st_uid, nobody, f)
        self.assertIn("running as user nobody", h.output())
        # A reload still reads the (world-readable) configuration: wait for
        # the rebuild it ends with, then look for a failure.
        builds = h.output().count("blocking ")
        h.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and h.output().count("blocking ") == builds \
                and "reload failed" not in h.output():
            time.sleep(0.05)
        self.assertIn("received SIGHUP", h.output())
        self.assertNotIn("reload failed", h.output())
        self.assertGreater(h.output().count("blocking "), builds, h.output())


if __name__ == "__main__":
    unittest.main()
