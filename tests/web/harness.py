"""Test support for the dashboard: a fake upstream DNS server, the hush binary
started on loopback ports, and a small HTTP client that keeps a cookie jar.

Every wait here is bounded. Network: 127.0.0.1 only.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

HUSH = os.environ.get("HUSH_BINARY", "")
UPSTREAM_ANSWER = "192.0.2.44"


_handed_out = set()


def free_port():
    """A port that is free for both TCP and UDP on 127.0.0.1 right now, and
    never one handed out before in this process (the kernel may give a port it
    just freed to the next bind(0): DNS and HTTP on one port turn HTTP off)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if port in _handed_out:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port")


def build_query(name, qtype=1, qid=0x1234):
    """A DNS query message; `name` may hold any bytes (labels split on '.')."""
    if isinstance(name, str):
        name = name.encode("latin-1")
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(b".").split(b"."):
        q += bytes([len(label)]) + label
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def parse_answer(msg):
    """(rcode, [A addresses]) from a response."""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    off = 12

    def skip_name(off):
        while True:
            n = msg[off]
            if n == 0:
                return off + 1
            if n & 0xC0 == 0xC0:
                return off + 2
            off += 1 + n

    for _ in range(qd):
        off = skip_name(off) + 4
    addrs = []
    for _ in range(an):
        off = skip_name(off)
        rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return flags & 0xF, addrs


def udp_query(port, name, qtype=1, timeout=3.0, source="127.0.0.1"):
    """Asks hush from `source` (any 127.0.0.0/8 address is a different device)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(build_query(name, qtype), ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return parse_answer(data)


def dig(port, name):
    """The A addresses `dig` gets for `name` from hush (dnsutils)."""
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+tries=1", "+time=3", name, "A"],
                         capture_output=True, text=True, timeout=15)
    return [l for l in out.stdout.split() if re.match(r"^\d+\.\d+\.\d+\.\d+$", l)]


class FakeUpstream:
    """Answers every A question with UPSTREAM_ANSWER, anything else with NODATA."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            qid, flags, qd = struct.unpack(">HHH", data[:6])
            off = 12
            while off < len(data) and data[off] != 0:
                off += 1 + data[off]
            end = off + 5
            question = data[12:end]
            qtype = struct.unpack(">H", data[off + 1:off + 3])[0] if end <= len(data) else 0
            self.asked.append(question)
            answer = b""
            count = 0
            if qtype == 1:
                answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(UPSTREAM_ANSWER)
                count = 1
            resp = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, count, 0, 0) + question + answer
            try:
                self.sock.sendto(resp, addr)
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


class Hush:
    """`hush serve` on loopback ports with its own data directory."""

    def __init__(self, password="correct horse battery", extra_args=(), data_dir=None, set_password=True,
                 start=True):
        assert HUSH, "HUSH_BINARY is not set"
        self.tmp = tempfile.mkdtemp(prefix="hush-web-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.upstream = FakeUpstream()
        self.dns_port = free_port()
        self.http_port = free_port()
        self.password = password
        if set_password:
            r = subprocess.run([HUSH, "passwd", "--data-dir", self.data_dir], input=password + "\n",
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
        self.stderr_path = os.path.join(self.tmp, "hush.stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.extra_args = extra_args
        self.proc = None
        if start:
            self.start()

    def start(self):
        """Starts hush serve (once) and waits for its HTTP and DNS listeners."""
        self.proc = subprocess.Popen(
            [HUSH, "serve", "--listen", "127.0.0.1:%d" % self.dns_port,
             "--upstream", "127.0.0.1:%d" % self.upstream.port, "--data-dir", self.data_dir,
             "--http", "127.0.0.1:%d" % self.http_port, "--user", "", "--threads", "1", *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        self.wait_ready()

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hush exited early:\n" + self.log())
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
                c.request("GET", "/metrics")
                if c.getresponse().status == 200:
                    c.close()
                    udp_query(self.dns_port, "ready.test", timeout=1)  # raises until DNS answers
                    return
            except (OSError, socket.timeout):
                pass
            time.sleep(0.1)
        raise RuntimeError("hush did not start:\n" + self.log())

    def stop(self):
        """Stops hush; fails unless it exited 0 (a sanitizer report makes it exit 1). Once."""
        if getattr(self, "stopped", False):
            return
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.stderr.close()
        self.upstream.stop()
        code, log = (self.proc.returncode if self.proc else 0), self.log()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("hush exited with %s:\n%s" % (code, log[-4000:]))

    def client(self):
        return Client(self.http_port)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Client:
    """HTTP/1.1 client with one cookie jar and an optional CSRF token or bearer token."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.csrf = None
        self.bearer = None

    def request(self, method, path, body=None, headers=None, csrf=True, timeout=40):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            c.close()
        for k, v in resp.headers:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, password):
        r = self.post("/api/login", {"password": password})
        if r.status == 200:
            self.csrf = r.json()["csrf"]
        return r


def wait_until(fn, timeout=10.0, step=0.2, what="condition"):
    """Calls fn until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))
