"""Operating `scimitar target`: --no-delete (405 as Code42), the body cap (413),
persistence across restarts with --db, fault injection with --faults (429 with
Retry-After, 500, hung responses), option validation and graceful shutdown."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.request

from harness import BIN, Target, free_port, http, wait_until

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user(name, **extra):
    u = {"schemas": [USER], "userName": name}
    u.update(extra)
    return u


class EndpointsTest(unittest.TestCase):
    def test_base_url_and_methods_an_endpoint_does_not_take(self):
        # --base-url is the public address in Location and meta.location (trailing
        # slashes dropped)
        with Target(token="t", extra=["--base-url", "https://scim.example.com/v2//"]) as tgt:
            st, body, h = tgt.scim("POST", "/Users", user("ada"))
            self.assertEqual(st, 201, body)
            self.assertEqual(h["location"], "https://scim.example.com/v2/Users/" + body["id"])
            self.assertEqual(body["meta"]["location"], h["location"])
            st, body, h = tgt.scim("GET", "/Bulk")
            self.assertEqual(st, 405, body)
            self.assertEqual(h["allow"], "POST")
            st, body, h = tgt.scim("POST", "/ServiceProviderConfig", {"schemas": []})
            self.assertEqual(st, 405, body)
            self.assertEqual(h["allow"], "GET")
            st, body, h = tgt.scim("DELETE", "/Schemas")
            self.assertEqual(st, 405, body)


class NoDeleteTest(unittest.TestCase):
    def test_delete_refused_like_code42(self):
        with Target(token="t", no_delete=True) as tgt:
            st, u, _ = tgt.scim("POST", "/Users", user("keep.me"))
            self.assertEqual(st, 201, u)
            st, body, h = tgt.scim("DELETE", "/Users/" + u["id"])
            self.assertEqual(st, 405, body)
            self.assertEqual(body["status"], "405")
            self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", body["schemas"])
            self.assertTrue(h["content-type"].startswith("application/scim+json"))
            self.assertNotIn("DELETE", h["allow"])
            st, body, _ = tgt.scim("GET", "/Users/" + u["id"])
            self.assertEqual(st, 200, body)
            # disabling is the way
            st, body, _ = tgt.scim("PATCH", "/Users/" + u["id"], {
                "schemas": [PATCHOP],
                "Operations": [{"op": "replace", "path": "active", "value": False}]})
            self.assertEqual((st, body["active"]), (200, False))
            # groups can still be deleted
            st, g, _ = tgt.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "g"})
            st, _, _ = tgt.scim("DELETE", "/Groups/" + g["id"])
            self.assertEqual(st, 204)


class LimitsTest(unittest.TestCase):
    @staticmethod
    def raw_exchange(tgt, head, body=b""):
        """Sends head (and body) over a plain socket and reads the whole answer, so a
        server that answers before reading the body cannot break the client's send."""
        with socket.create_connection(("127.0.0.1", tgt.port), timeout=30) as s:
            s.sendall(head.encode() + body)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    hdr, _, rest = data.partition(b"\r\n\r\n")
                    for line in hdr.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            if len(rest) >= int(line.split(b":")[1]):
                                return hdr.decode(), json.loads(rest.decode())
        hdr, _, rest = data.partition(b"\r\n\r\n")
        return hdr.decode(), json.loads(rest.decode()) if rest else None

    def test_oversize_body(self):
        with Target(token="t", extra=["--max-body", "4096"]) as tgt:
            # announced by Content-Length: refused before the body is sent
            hdr, body = self.raw_exchange(
                tgt, "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                     "Content-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n")
            self.assertTrue(hdr.startswith("HTTP/1.1 413"), hdr)
            self.assertIn("application/scim+json", hdr.lower())
            self.assertEqual(body["status"], "413")
            self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", body["schemas"])
            # streamed in chunks past the cap: read to the end, then refused
            payload = json.dumps(user("big", title="x" * 8000)).encode()
            chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
            hdr, body = self.raw_exchange(
                tgt, "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                     "Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n", chunked)
            self.assertTrue(hdr.startswith("HTTP/1.1 413"), hdr)
            self.assertEqual(body["status"], "413")
            st, spc, _ = tgt.scim("GET", "/ServiceProviderConfig")
            self.assertEqual(spc["bulk"]["maxPayloadSize"], 4096)
            st, body, _ = tgt.scim("POST", "/Users", user("small"))
            self.assertEqual(st, 201, body)

    def test_max_results_caps_pages(self):
        with Target(token="t", extra=["--max-results", "3"]) as tgt:
            for i in range(5):
                tgt.scim("POST", "/Users", user("m%d" % i))
            st, body, _ = tgt.scim("GET", "/Users?count=100")
            self.assertEqual((st, body["totalResults"], len(body["Resources"])), (200, 5, 3))
            st, spc, _ = tgt.scim("GET", "/ServiceProviderConfig")
            self.assertEqual(spc["filter"]["maxResults"], 3)


class PersistenceTest(unittest.TestCase):
    def test_restart_keeps_everything(self):
        with tempfile.TemporaryDirectory(prefix="scimitar-target-db-") as d:
            db = "sqlite:" + os.path.join(d, "target.db")
            port = free_port()
            with Target(token="t", port=port, extra=["--db", db]) as tgt:
                st, a, _ = tgt.scim("POST", "/Users", user("Persist.Me", title="One"))
                self.assertEqual(st, 201, a)
                st, b, _ = tgt.scim("POST", "/Users", user("gone"))
                st, a2, h = tgt.scim("PATCH", "/Users/" + a["id"], {
                    "schemas": [PATCHOP],
                    "Operations": [{"op": "replace", "path": "title", "value": "Two"}]})
                self.assertEqual(st, 200, a2)
                etag = h["etag"]
                st, g, _ = tgt.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "G",
                                                        "members": [{"value": a["id"]}]})
                self.assertEqual(st, 201, g)
                st, _, _ = tgt.scim("DELETE", "/Users/" + b["id"])
                self.assertEqual(st, 204)
            with Target(token="t", port=port, extra=["--db", db]) as tgt:
                st, got, h = tgt.scim("GET", "/Users/" + a["id"])
                self.assertEqual(st, 200, got)
                self.assertEqual(got["title"], "Two")
                self.assertEqual(h["etag"], etag)
                self.assertEqual(got["meta"]["created"], a["meta"]["created"])
                st, got, _ = tgt.scim("GET", "/Users/" + b["id"])
                self.assertEqual(st, 404)
                users = tgt.users()
                self.assertEqual([u["userName"] for u in users], ["Persist.Me"])
                st, got, _ = tgt.scim("POST", "/Users", user("persist.me"))
                self.assertEqual((st, got.get("scimType")), (409, "uniqueness"))
                st, got, _ = tgt.scim("GET", "/Groups/" + g["id"])
                self.assertEqual([m["value"] for m in got["members"]], [a["id"]])
                st, got, _ = tgt.scim("GET", "/Users/" + a["id"])
                self.assertEqual([x["value"] for x in got["groups"]], [g["id"]])
                st, got, _ = tgt.scim("GET", "/Users?filter=userName%20eq%20%22PERSIST.ME%22")
                self.assertEqual(got["totalResults"], 1)

    def test_bad_db(self):
        r = subprocess.run([BIN, "target", "--listen", "127.0.0.1:%d" % free_port(), "--db",
                            "mysql://x"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--db", r.stderr)
        # PostgreSQL is for serve: refused before any connection is tried
        r = subprocess.run([BIN, "target", "--listen", "127.0.0.1:%d" % free_port(), "--db",
                            "postgresql://nobody@127.0.0.1:1/none"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--db", r.stderr)
        self.assertIn("SQLite only", r.stderr)


class FaultsTest(unittest.TestCase):
    def test_429_with_retry_after(self):
        with Target(token="t", extra=["--faults", "429=1,retry-after=7"]) as tgt:
            st, body, h = tgt.scim("GET", "/Users")
            self.assertEqual(st, 429, body)
            self.assertEqual(h["retry-after"], "7")
            self.assertEqual(body["status"], "429")
            st, body, _ = tgt.scim("POST", "/Users", user("never"))
            self.assertEqual(st, 429)
            # authentication comes first, and the test aid is never faulted
            st, _, _ = tgt.scim("GET", "/Users", token="wrong")
            self.assertEqual(st, 401)
            st, stats, _ = tgt.scim("GET", "/_stats")
            self.assertEqual(st, 200, stats)
            self.assertEqual(stats["users"], 0)
            self.assertEqual(stats["faults"], 2)
            self.assertEqual(stats["requests"]["POST"], 1)

    def test_500_and_mixed(self):
        with Target(token="t", extra=["--faults", "500=0.5,latency=1ms"]) as tgt:
            seen = set()
            for i in range(60):
                st, body, _ = tgt.scim("POST", "/Users", user("u%d" % i))
                seen.add(st)
                if seen == {201, 500}:
                    break
            self.assertEqual(seen, {201, 500})

    def test_hung_response_and_shutdown(self):
        with Target(token="t", extra=["--faults", "timeout=1,hang=600s"]) as tgt:
            req = urllib.request.Request(tgt.scim_base + "/Users",
                                         headers={"Authorization": "Bearer t"})
            with self.assertRaises((socket.timeout, TimeoutError, OSError)):
                urllib.request.urlopen(req, timeout=1)
            # another connection is still served (the test aid is never faulted)
            st, stats, _ = tgt.scim("GET", "/_stats")
            self.assertEqual(st, 200)
            self.assertGreaterEqual(stats["faults"], 1)
            # SIGTERM releases hung responses and stops promptly
            code = tgt.stop(signal.SIGTERM)
            self.assertEqual(code, 0, tgt.output())
            self.assertIn("event=target.stopped", tgt.output())

    def test_bad_fault_specs(self):
        for spec, words in [("429=2", "probability"), ("foo=1", "unknown"),
                            ("latency=fast", "latency"), ("429=0.7,500=0.7", "exceed"),
                            ("700=0.1", "400 to 599"), ("429", "KEY=VALUE")]:
            r = subprocess.run([BIN, "target", "--listen", "127.0.0.1:%d" % free_port(),
                                "--faults", spec], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (spec, r.stderr))
            self.assertIn("--faults", r.stderr, spec)
            self.assertIn(words, r.stderr, spec)


class CliTest(unittest.TestCase):
    def test_help_and_bad_options(self):
        r = subprocess.run([BIN, "target", "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for opt in ("--listen", "--token", "--basic", "--client-id", "--no-delete", "--db",
                    "--faults", "--token-ttl"):
            self.assertIn(opt, r.stdout)
        for args, words in [(["--basic", "nopass"], "--basic"),
                            (["--client-id", "x"], "client"),
                            (["--listen", "nowhere"], "listen"),
                            (["--max-results", "0"], "max-results"),
                            (["--bogus"], "--bogus")]:
            r = subprocess.run([BIN, "target"] + args, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(words, r.stderr, args)

    def test_startup_line_and_debug_log(self):
        with Target(token="very-secret-token", extra=["--log-level", "debug"]) as tgt:
            tgt.scim("GET", "/Users?filter=userName%20eq%20%22x%22")
            wait_until(lambda: "event=target.request" in tgt.output(), what="a request line")
            out = tgt.output()
            self.assertIn("event=target.listening", out)
            self.assertIn("url=%s" % tgt.scim_base, out)
            self.assertIn("method=GET path=/scim/v2/Users status=200", out)
            self.assertNotIn("very-secret-token", out)

    def test_sigint_stops(self):
        tgt = Target(token="t").start()
        try:
            self.assertEqual(tgt.stop(signal.SIGINT), 0)
        finally:
            tgt.__exit__(None, None, None)


if __name__ == "__main__":
    unittest.main()
