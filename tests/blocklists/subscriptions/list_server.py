#!/usr/bin/env python3
"""A list host that misbehaves on purpose, for the subscription tests.

Usage: list_server.py DATA_DIR DYN_DIR
Binds 127.0.0.1 on a free port, prints the port on the first line of stdout,
then serves until killed. Paths:
  /lists/F        DATA_DIR/F with ETag and Last-Modified; 304 on a match
  /dyn/F          DYN_DIR/F (the test rewrites it), same validators; when
                  DYN_DIR/F.mode exists it names a behaviour from this list
                  (lists, noetag, status:N, redirect:N, loop, slow, truncated,
                  html, binary, big:N, bigstream:N, gzip) applied to DYN_DIR/F
  /noetag/F       DATA_DIR/F without validators
  /status/N       an empty answer with status N (404, 500, ...)
  /redirect/N/P   302 -> /redirect/N-1/P ... -> /P
  /loop           302 -> /loop forever
  /slow/F         headers, then one line every 0.5 s (at most 20 s)
  /truncated/F    Content-Length 10000 bytes larger than the body, then close
  /html           a 200 HTML error page
  /binary         a 200 body with NUL bytes
  /big/N          N bytes of valid hosts lines, Content-Length announced
  /bigstream/N    the same without Content-Length (ends at close)
  /gzip/F         DATA_DIR/F gzip-encoded (406 unless the client accepts gzip)
  /gen/N          a hosts file of N generated names
  /log            the requests so far, one a line: PATH STATUS IF-NONE-MATCH
"""
import email.utils
import gzip
import hashlib
import http.server
import os
import sys
import threading
import time

DATA, DYN = sys.argv[1], sys.argv[2]
LOG = []
LOCK = threading.Lock()


def gen_hosts(n):
    for i in range(n):
        yield b"0.0.0.0 host%d.tracker%d.example\n" % (i, i % 997)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status):
        with LOCK:
            LOG.append("%s %d %s" % (self.path, status, self.headers.get("If-None-Match", "-")))

    def send(self, status, body=b"", ctype="text/plain", extra=None, length=None):
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def serve_file(self, path, validators=True):
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            return self.send(404, b"not found")
        if not validators:
            return self.send(200, body)
        etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
        mtime = int(os.stat(path).st_mtime)
        extra = {"ETag": etag, "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}
        if self.headers.get("If-None-Match") == etag:
            return self.send(304, b"", extra=extra, length=0)
        return self.send(200, body, extra=extra)

    def do_GET(self):
        p = self.path
        parts = p.split("/")
        if p == "/log":
            with LOCK:
                body = ("\n".join(LOG) + "\n").encode()
            # not recorded: reading the log must not change it
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if p.startswith("/dyn/"):
            # DYN/F.mode, when present, names a misbehaviour applied to DYN/F
            f = os.path.join(DYN, parts[2])
            try:
                with open(f + ".mode") as m:
                    mode = m.read().strip()
            except OSError:
                mode = "lists"
            return self.behave(mode, f)
        if len(parts) >= 3 and parts[1] in ("lists", "noetag", "slow", "truncated", "gzip"):
            return self.behave(parts[1], os.path.join(DATA, parts[2]))
        if len(parts) >= 3 and parts[1] in ("status", "big", "bigstream", "gen"):
            return self.behave(parts[1] + ":" + parts[2], None)
        if p.startswith("/redirect/"):
            n = int(parts[2])
            rest = "/".join(parts[3:])
            target = "/redirect/%d/%s" % (n - 1, rest) if n > 1 else "/" + rest
            return self.send(302, b"", extra={"Location": target})
        if p in ("/loop", "/html", "/binary"):
            return self.behave(p[1:], None)
        return self.send(404, b"no such path")

    def behave(self, mode, path):
        kind, _, arg = mode.partition(":")
        if kind == "lists":
            return self.serve_file(path)
        if kind == "noetag":
            return self.serve_file(path, validators=False)
        if kind == "status":
            return self.send(int(arg), b"")
        if kind == "redirect":  # to the same path through /redirect/N/
            return self.send(302, b"", extra={"Location": "/redirect/%s/lists/%s" % (arg, os.path.basename(path))})
        if kind == "loop":
            return self.send(302, b"", extra={"Location": "/loop"})
        if kind == "slow":
            with open(path, "rb") as f:
                lines = f.read().splitlines(True)
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Length", str(sum(len(l) for l in lines)))
            self.end_headers()
            deadline = time.time() + 20
            try:
                for line in lines:
                    if time.time() > deadline:
                        break
                    self.wfile.write(line)
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            self.close_connection = True
            return
        if kind == "truncated":
            with open(path, "rb") as f:
                body = f.read()
            self.send(200, body, length=len(body) + 10000)
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "html":
            page = (b"<!DOCTYPE html>\n<html><head><title>Rate limited</title></head>\n"
                    b"<body><h1>429 Too Many Requests</h1><p>try.example.com</p></body></html>\n")
            return self.send(200, page, ctype="text/html")
        if kind == "binary":
            return self.send(200, b"0.0.0.0 a.example\n\x00\x01\x02\xff" * 64, ctype="application/octet-stream")
        if kind in ("big", "bigstream"):
            n = int(arg)
            line = b"0.0.0.0 big-list-entry.example\n"
            body = (line * (n // len(line) + 1))[:n]
            if kind == "big":
                return self.send(200, body)
            self.record(200)
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for i in range(0, len(body), 65536):
                    self.wfile.write(body[i:i + 65536])
            except OSError:
                pass
            self.close_connection = True
            return
        if kind == "gzip":
            if "gzip" not in self.headers.get("Accept-Encoding", ""):
                return self.send(406, b"gzip only")
            with open(path, "rb") as f:
                body = gzip.compress(f.read())
            return self.send(200, body, extra={"Content-Encoding": "gzip"})
        if kind == "gen":
            n = int(arg)
            body = b"".join(gen_hosts(n))
            return self.send(200, body, extra={"ETag": '"gen-%d"' % n})
        return self.send(404, b"unknown mode " + mode.encode())


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
