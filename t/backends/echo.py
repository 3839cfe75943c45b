#!/usr/bin/env python3
"""echo.py - the echo upstream service of the vip test suite.

A real HTTP/1.1 origin (keep-alive, Content-Length framing) that tells the
test what it received.  Any method on any path answers a JSON document:

    {"method", "path", "query",
     "target":  the request-target exactly as received (not decoded),
     "headers": [[name, value], ...],   every header line as received,
                                        duplicates kept, original case
     "body":    request body as text,
     "hits":    this process's request count, this request included,
     "instance": the port this instance listens on (several instances
                run side by side: t/TEST.PL starts three),
     "conn":    serial number of the TCP connection this request came on
                (1 for the first connection this process accepted),
     "conn_requests": requests served on that connection so far,
                this one included,
     "conns":   TCP connections this process has accepted so far}

Controls (query string):
    _status=NNN   answer with that status
    _sleep=MS     sleep that many milliseconds first
    _drop=1       close the connection without answering
    _garbage=status|noise|headers   answer with an invalid status line
                  ("1" means status), binary noise, or a header section
                  larger than any proxy accepts; then close
    _hdr=Name:value   add that response header (repeatable)
    _drip=MS      send the response head one line every MS milliseconds
                  (eight filler header lines): a drip-feeding upstream
    _dripbody=MS  send the head at once, then the body (ten lines, with
                  Content-Length) one line every MS milliseconds
    _at=PORT      the controls above apply only on the instance listening
                  on PORT; the others answer as if they were absent
    _bytes=N      answer N bytes of text/plain instead of the JSON document
                  (the first line says the hit count; _hdr still applies)
    _short=1      announce the JSON document's length but send only half
                  of it, then close: an upstream that breaks mid-body

Special paths:
    GET  /_hits      {"hits": N} (not counted)
    GET  /_conns     {"conns": N, "instance": port} (not counted)
    GET  /_seen      {"seen": [[method, target], ...]}: the counted requests
                     since the last reset, oldest first (at most 5000)
    GET  /_drips     {"done": N, "cut": N}: dripped responses sent whole,
                     and cut short because the reader closed (not counted)
    POST /_reset     reset the count and the seen list (not counted)
    /static/<file>   serve <root>/htdocs/static/<file> with
                     Cache-Control: public, max-age=600 (counted); these
                     controls apply to it too (ESI tests):
                       _hdr=Name:value  as above
                       _esi=1       add Surrogate-Control: content="ESI/1.0"
                       _chunk=N     send the body N bytes a write, with
                                    _pause=MS between writes (default 2)
                       _gzip=1      gzip the body when Accept-Encoding names
                                    gzip (Vary: Accept-Encoding); =force:
                                    always
                       _post=1      also answer POST with the file

Only the ready line is printed on stdout; the access log goes to
<root>/logs/echo.log (or --log).  Python standard library only.
"""

import argparse
import gzip
import json
import mimetypes
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_drips = {"done": 0, "cut": 0}
_hits = 0
_conns = 0
_seen = []
_SEEN_MAX = 5000


def _count(reset=False, seen=None):
    global _hits, _seen
    with _lock:
        if reset:
            _hits = 0
            _seen = []
        else:
            _hits += 1
            if seen is not None and len(_seen) < _SEEN_MAX:
                _seen.append(seen)
        return _hits


def _new_conn():
    global _conns
    with _lock:
        _conns += 1
        return _conns


def _peek_conns():
    with _lock:
        return _conns


def _peek_seen():
    with _lock:
        return list(_seen)


def _drip_count(kind=None):
    with _lock:
        if kind:
            _drips[kind] += 1
        return dict(_drips)


def _peek():
    with _lock:
        return _hits


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vip-echo/1"
    sys_version = ""
    static_dir = None
    log_fh = None
    instance = 0
    # The head and the body go out in separate writes: without TCP_NODELAY
    # the body waits for the proxy's delayed ACK of the head (40 ms a
    # request on a reused connection).
    disable_nagle_algorithm = True

    # One handler object per accepted TCP connection.
    def setup(self):
        super().setup()
        self.conn_id = _new_conn()
        self.conn_requests = 0

    # Every method goes through one function.
    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
            self.wfile.flush()
        except (socket.timeout, ConnectionError) as e:
            self.log_message("connection error: %r", e)
            self.close_connection = True

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        return b""

    def _send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, extra=()):
        body = (json.dumps(obj) + "\n").encode("utf-8")
        self._send(status, body, "application/json", extra)

    def _dispatch(self):
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        body = self._read_body()

        if path == "/_hits" and self.command == "GET":
            self._json(200, {"hits": _peek()})
            return
        if path == "/_conns" and self.command == "GET":
            self._json(200, {"conns": _peek_conns(),
                             "instance": self.instance})
            return
        if path == "/_seen" and self.command == "GET":
            self._json(200, {"seen": _peek_seen(), "instance": self.instance})
            return
        if path == "/_drips" and self.command == "GET":
            self._json(200, _drip_count())
            return
        if path == "/_reset" and self.command == "POST":
            _count(reset=True)
            self._json(200, {"hits": 0})
            return

        hits = _count(seen=[self.command, self.path])
        self.conn_requests += 1

        if "_at" in params and params["_at"][0] != str(self.instance):
            params = {k: v for k, v in params.items()
                      if k not in ("_sleep", "_drop", "_garbage", "_drip",
                                   "_dripbody", "_status", "_hdr")}

        if "_sleep" in params:
            try:
                time.sleep(int(params["_sleep"][0]) / 1000.0)
            except ValueError:
                pass
        if params.get("_drop", ["0"])[0] == "1":
            self.log_message("dropping connection as asked")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return

        garbage = params.get("_garbage", [""])[0]
        if garbage:
            self._garbage(garbage)
            return
        if "_drip" in params:
            try:
                self._drip(int(params["_drip"][0]) / 1000.0)
            except ValueError:
                self._json(400, {"error": "bad _drip"})
            return
        if "_dripbody" in params:
            try:
                self._drip(int(params["_dripbody"][0]) / 1000.0, body=True)
            except ValueError:
                self._json(400, {"error": "bad _dripbody"})
            return

        status = 200
        if "_status" in params:
            try:
                status = int(params["_status"][0])
            except ValueError:
                status = 400

        if path.startswith("/static/") and (
                self.command in ("GET", "HEAD")
                or (self.command == "POST" and "_post" in params)):
            self._static(path, status, params)
            return

        extra = []
        for h in params.get("_hdr", []):
            name, sep, value = h.partition(":")
            if sep and name:
                extra.append((name, value.strip()))
        if "_bytes" in params:
            try:
                n = max(0, min(int(params["_bytes"][0]), 64 << 20))
            except ValueError:
                n = 0
            head = ("hits=%d\n" % hits).encode("ascii")
            data = (head + b"x" * n)[:n]
            self._send(status, data, "text/plain", extra)
            return

        doc = {
            "method": self.command,
            "path": path,
            "query": query,
            "target": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", errors="replace"),
            "hits": hits,
            "instance": self.instance,
            "conn": self.conn_id,
            "conn_requests": self.conn_requests,
            "conns": _peek_conns(),
        }
        if status in (204, 304) or status < 200:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            return
        if params.get("_short", ["0"])[0] == "1":
            self._short(status, doc, extra)
            return
        self._json(status, doc, extra)

    def _short(self, status, doc, extra):
        """Announce the whole document, send half, close."""
        body = (json.dumps(doc) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            time.sleep(0.05)
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _drip(self, pause, body=False):
        """A valid response whose head (or body) arrives a line at a time."""
        if body:
            rows = [b"dripped line %d\n" % i for i in range(10)]
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(b"".join(rows)))
            lines = [head + rows[0]] + rows[1:]
        else:
            data = b"dripped\n"
            lines = [b"HTTP/1.1 200 OK\r\n"]
            lines += [b"X-Drip-%d: x\r\n" % i for i in range(8)]
            lines += [b"Content-Type: text/plain\r\n",
                      b"Content-Length: %d\r\n\r\n" % len(data) + data]
        self.log_message("dripping the response %s, %.3f s a line",
                         "body" if body else "head", pause)
        try:
            for line in lines:
                self.wfile.write(line)
                self.wfile.flush()
                if line is not lines[-1]:
                    time.sleep(pause)
        except OSError:
            self.close_connection = True
            _drip_count("cut")
            return
        _drip_count("done")

    def _garbage(self, kind):
        """A response no HTTP client may accept, then close."""
        if kind == "noise":
            data = bytes(range(256)) * 4
        elif kind == "headers":
            data = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + b"X-Big: " + b"a" * 200000 + b"\r\n"
                    + b"Content-Length: 2\r\n\r\nok")
        else:
            data = (b"HTTP/1.1 2x0 Garbage\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 7\r\n\r\ngarbage")
        self.log_message("answering with garbage (%s) as asked", kind)
        self.close_connection = True
        try:
            self.wfile.write(data)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _static(self, path, status, params=None):
        rel = urllib.parse.unquote(path[len("/static/"):])
        full = os.path.realpath(os.path.join(self.static_dir, rel))
        if not full.startswith(os.path.realpath(self.static_dir) + os.sep) \
                or not os.path.isfile(full):
            self._json(404, {"error": "not found", "path": path})
            return
        with open(full, "rb") as f:
            data = f.read()
        ctype = mimetypes.guess_type(full)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype == "application/json":
            ctype += "; charset=utf-8"
        extra = [("Cache-Control", "public, max-age=600")]
        params = params or {}
        for h in params.get("_hdr", []):
            name, sep, value = h.partition(":")
            if sep and name:
                extra.append((name, value.strip()))
        if params.get("_esi", ["0"])[0] == "1":
            extra.append(("Surrogate-Control", 'content="ESI/1.0"'))
        gz = params.get("_gzip", [""])[0]
        if gz == "force" or (gz == "1" and "gzip" in (
                self.headers.get("Accept-Encoding") or "")):
            data = gzip.compress(data)
            extra += [("Content-Encoding", "gzip"),
                      ("Vary", "Accept-Encoding")]
        if "_chunk" not in params:
            self._send(status, data, ctype, extra)
            return
        try:
            step = max(1, int(params["_chunk"][0]))
            pause = int(params.get("_pause", ["2"])[0]) / 1000.0
        except ValueError:
            self._json(400, {"error": "bad _chunk or _pause"})
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return
        try:
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                time.sleep(pause)
        except OSError:
            self.close_connection = True

    def log_message(self, fmt, *args):
        if self.log_fh:
            self.log_fh.write("%s %s %s\n" % (
                time.strftime("%Y-%m-%dT%H:%M:%S"),
                self.address_string(), fmt % args))
            self.log_fh.flush()


def main():
    ap = argparse.ArgumentParser(description="vip echo upstream")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True,
                    help="the t/ directory (static files from htdocs/static)")
    ap.add_argument("--log", help="log file (default <root>/logs/echo.log)")
    ap.add_argument("--bind", default="127.0.0.1")
    a = ap.parse_args()

    logfile = a.log or os.path.join(a.root, "logs", "echo.log")
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    EchoHandler.log_fh = open(logfile, "a", buffering=1)
    EchoHandler.static_dir = os.path.join(a.root, "htdocs", "static")
    EchoHandler.instance = a.port

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128

        def handle_error(self, request, client_address):
            EchoHandler.log_fh.write("error serving %r: %r\n"
                                     % (client_address, sys.exc_info()[1]))

    httpd = Server((a.bind, a.port), EchoHandler)
    sys.stdout.write("ECHO READY %s:%d pid=%d\n" % (a.bind, a.port, os.getpid()))
    sys.stdout.flush()
    try:
        httpd.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
