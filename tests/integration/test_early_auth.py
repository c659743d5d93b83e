"""Requests without credentials are answered before their bodies are read: the admin
API's 401 (and 404/405 on unknown routes) and the SCIM target's 401 arrive after the
headers alone, and many large unauthenticated bodies leave serve's memory flat."""
import json
import socket
import threading
import unittest

from harness import Serve, Target, http
from seedflow import started

BIG = 8 * 1024 * 1024  # serve's default --max-body


def head(port, method, path, length, extra=""):
    """Opens a connection and sends only the request line and headers."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n%s\r\n" % (method, path, length, extra)).encode())
    return s


def read_answer(s):
    """Reads what the server sends until it closes or a whole answer is in; returns
    (status, headers text, body bytes)."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            raise AssertionError("no answer before the body was sent (got %r)" % data)
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            hdr, _, body = data.partition(b"\r\n\r\n")
            n = [int(line.split(b":")[1]) for line in hdr.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")]
            if n and len(body) >= n[0]:
                break
    hdr, _, body = data.partition(b"\r\n\r\n")
    status = int(hdr.split(b" ")[1])
    return status, hdr.decode(), body


def rss_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s" % key)


class EarlyAuthTest(unittest.TestCase):
    def test_serve_answers_before_the_body(self):
        srv = started(self, Serve())
        # headers only, no Expect: the 401 arrives without a byte of the body
        s = head(srv.port, "POST", "/api/v1/users", BIG)
        status, hdr, body = read_answer(s)
        s.close()
        self.assertEqual(status, 401, body)
        self.assertIn("WWW-Authenticate: Bearer", hdr)
        self.assertEqual(json.loads(body)["error"]["code"], "UNAUTHORIZED")
        # a wrong token too, and Expect: 100-continue gets the 401 instead of 100
        s = head(srv.port, "PUT", "/api/v1/rules/x/filter", BIG,
                 "Authorization: Bearer wrong-token-wrong-token\r\nExpect: 100-continue\r\n")
        status, hdr, _ = read_answer(s)
        s.close()
        self.assertEqual(status, 401)
        self.assertNotIn("100 Continue", hdr)
        # unknown routes and methods: their answers come before the body as well
        for method, path, want in (("POST", "/api/v1/nothing", 404),
                                   ("DELETE", "/api/v1/users", 405)):
            s = head(srv.port, method, path, BIG)
            status, _, _ = read_answer(s)
            s.close()
            self.assertEqual(status, want, path)
        # the token holder's request still goes through, with 100-continue too
        s = head(srv.port, "POST", "/api/v1/populations", 17,
                 "Authorization: Bearer %s\r\nExpect: 100-continue\r\n" % srv.token)
        s.settimeout(20)
        self.assertIn(b"100 Continue", s.recv(4096))
        s.sendall(b'{"name": "Early"}')
        status, _, body = read_answer(s)
        s.close()
        self.assertEqual(status, 201, body)
        # no-auth routes drop a body they do not need
        st, b, _ = http("GET", srv.base + "/healthz", raw=b"x" * 100000)
        self.assertEqual(st, 200, b)

    def test_serve_memory_stays_flat(self):
        srv = started(self, Serve())
        pid = srv.proc.pid
        http("GET", srv.base + "/healthz")
        before_rss, before_hwm = rss_kib(pid, "VmRSS"), rss_kib(pid, "VmHWM")
        chunk = b"x" * (1024 * 1024)
        answers = []

        def send_all():
            s = head(srv.port, "POST", "/api/v1/users/import", BIG)
            try:
                for _ in range(BIG // len(chunk)):
                    s.sendall(chunk)
            except OSError:
                pass  # the server answered and closed: what we want
            try:
                answers.append(read_answer(s)[0])
            except (OSError, AssertionError, IndexError, ValueError):
                answers.append(None)
            s.close()

        threads = [threading.Thread(target=send_all) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(answers.count(401) + answers.count(None), 20, answers)
        self.assertGreaterEqual(answers.count(401), 1, answers)
        after_rss, after_hwm = rss_kib(pid, "VmRSS"), rss_kib(pid, "VmHWM")
        # 20 buffered bodies would be 160 MiB
        self.assertLess(after_rss - before_rss, 24 * 1024, (before_rss, after_rss))
        self.assertLess(after_hwm - before_hwm, 24 * 1024, (before_hwm, after_hwm))
        st, _, _ = http("GET", srv.base + "/healthz")
        self.assertEqual(st, 200)

    def test_target_answers_before_the_body(self):
        tgt = started(self, Target(token="target-token"))
        s = head(tgt.port, "POST", "/scim/v2/Users", 1024 * 1024)
        status, hdr, body = read_answer(s)
        s.close()
        self.assertEqual(status, 401, body)
        self.assertIn("WWW-Authenticate: Bearer", hdr)
        st, b, _ = tgt.scim("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "early"})
        self.assertEqual(st, 201, b)


if __name__ == "__main__":
    unittest.main()
