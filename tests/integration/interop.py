"""Independent SCIM 2.0 servers for the interoperability tests, behind one interface, and
a recording proxy to put between scimitar and any of them.

Every server here has what harness.Target has (start/stop as a context manager,
`scim_base`, `token`, `scim()`, `users()`) plus:

    create_user(body)   POST /Users through the server's own SCIM API; returns the resource
    replace_user(id, **changes)
                        an edit made directly on the server, as its own administrator would:
                        GET the account, change the given attributes, PUT it back
    user_named(name)    the user whose userName matches (case-insensitively), found by
                        listing every user (never by the server's filter, which varies)
    reset()             deletes every user through the server's SCIM API
    core_schema         the URN of the server's core User schema (create_user's default)

The servers:

    ScimitarTarget      `scimitar target` (harness.Target with the methods above)
    Scimitar11Target    `scimitar target --scim-version 1.1` (SCIM 1.1 at /scim/v1)
    ScimmyServer        SCIMMY 1.3 + scimmy-routers on Express (tests/interop/scimmy-server.mjs)
    BetterAuthServer    Better Auth 1.7 with @better-auth/scim (tests/interop/better-auth-server.mjs)
    FilterIgnoringTarget  scimfake.FakeTarget that ignores `filter`

    with ScimmyServer() as tgt, RecordingProxy(tgt) as px, Serve() as srv:
        # point the connection at px.scim_base; px.requests() lists what was sent
        ...

The Node servers need tests/interop/node_modules (`scripts/install-deps.sh --test`).
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from http.client import HTTPConnection

from harness import Target, free_port, http, wait_until
from scimfake import FakeTarget, LoopbackService

INTEROP_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "interop"))
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
USER_SCHEMA_11 = "urn:scim:schemas:core:1.0"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class ScimClient:
    """SCIM calls shared by every server class; needs scim_base and token."""

    scim_base = None
    token = None
    core_schema = USER_SCHEMA

    def scim(self, method, path, body=None, raw=None, headers=None, token=None):
        h = {"Accept": "application/scim+json"}
        t = token if token is not None else self.token
        if t:
            h["Authorization"] = "Bearer " + t
        if body is not None or raw is not None:
            h["Content-Type"] = "application/scim+json"
        h.update(headers or {})
        return http(method, self.scim_base + path, body=body, raw=raw, headers=h)

    def users(self):
        """Every user on the server, following startIndex/count paging."""
        out, seen, start = [], set(), 1
        for _ in range(1000):
            st, body, _ = self.scim("GET", "/Users?startIndex=%d&count=100" % start)
            assert st == 200, ("GET /Users", st, body)
            res = body.get("Resources") or []
            for u in res:
                if u["id"] not in seen:
                    seen.add(u["id"])
                    out.append(u)
            start += len(res)
            if not res or start > int(body.get("totalResults", 0)):
                return out
        raise AssertionError("GET /Users paging did not end")

    def user_named(self, name):
        """The one user whose userName equals name case-insensitively, or None."""
        found = [u for u in self.users() if str(u.get("userName", "")).lower() == name.lower()]
        assert len(found) <= 1, ("duplicate accounts for %r" % name, found)
        return found[0] if found else None

    def create_user(self, body):
        """Creates an account directly through the server's SCIM API; returns it."""
        body = dict(body)
        body.setdefault("schemas", [self.core_schema])
        st, res, _ = self.scim("POST", "/Users", body)
        assert st == 201, ("POST /Users", st, res)
        return res

    def replace_user(self, rid, **changes):
        """Edits account rid directly on the server: reads it, sets each attribute of
        `changes` (None removes it), and PUTs the whole resource back. Returns the answer."""
        st, res, _ = self.scim("GET", "/Users/" + rid)
        assert st == 200, ("GET /Users/" + rid, st, res)
        body = {k: v for k, v in res.items() if k not in ("id", "meta")}
        for k, v in changes.items():
            if v is None:
                body.pop(k, None)
            else:
                body[k] = v
        st, res, _ = self.scim("PUT", "/Users/" + rid, body)
        assert st == 200, ("PUT /Users/" + rid, st, res)
        return res

    def reset(self):
        """Deletes every user through the server's SCIM API."""
        for u in self.users():
            st, body, _ = self.scim("DELETE", "/Users/" + u["id"])
            assert st in (200, 204), ("DELETE /Users/" + u["id"], st, body)


class ScimitarTarget(ScimClient, Target):
    """`scimitar target` (strict, full RFC 7643 schema, deletes allowed unless no_delete)."""

    name = "scimitar-target"


class Scimitar11Target(ScimitarTarget):
    """`scimitar target --scim-version 1.1`: SCIM 1.1 (draft-scim-api-01) at /scim/v1,
    strict (2.0 bodies and URNs are refused)."""

    name = "scimitar-target-1.1"
    core_schema = USER_SCHEMA_11

    def __init__(self, **kw):
        super().__init__(extra=["--scim-version", "1.1"] + list(kw.pop("extra", [])), **kw)
        self.scim_base = self.base + "/scim/v1"


class NodeServer(ScimClient):
    """A SCIM server script of tests/interop run with node on a free loopback port."""

    name = None
    script = None
    path = None  # the SCIM base path on the server

    def __init__(self, token="interop-token-0123456789", args=None, port=None):
        self.port = port or free_port()
        self.token = token
        self.extra = list(args or [])
        self.base = "http://127.0.0.1:%d" % self.port
        self.scim_base = self.base + self.path
        self.proc = None
        self.log = None
        self.tmp = tempfile.TemporaryDirectory(prefix="scimitar-interop-")
        self.log_path = os.path.join(self.tmp.name, "server.log")

    def start(self, timeout=30):
        mods = os.path.join(INTEROP_DIR, "node_modules")
        if not os.path.isdir(mods) or not shutil.which("node"):
            raise AssertionError("%s needs node and tests/interop/node_modules: run "
                                 "scripts/install-deps.sh --test" % self.name)
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, SCIM_TOKEN=self.token)
        self.proc = subprocess.Popen(
            ["node", os.path.join(INTEROP_DIR, self.script), str(self.port)] + self.extra,
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=env,
            cwd=self.tmp.name)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" % (
                    self.name, self.proc.returncode, self.output()))
            return "ready server=" in self.output()
        wait_until(ready, timeout=timeout, interval=0.05, what=self.name + " to be ready")
        return self

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()
        return False


class ScimmyServer(NodeServer):
    """SCIMMY 1.3.5 + scimmy-routers 1.3.2 on Express 4, users in memory. core_only=True
    leaves the Enterprise User extension undeclared."""

    name = "scimmy"
    script = "scimmy-server.mjs"
    path = "/scim/v2"

    def __init__(self, core_only=False, groups=False, **kw):
        super().__init__(args=(["--core-only"] if core_only else []) + (["--groups"] if groups else []),
                         **kw)


class BetterAuthServer(NodeServer):
    """Better Auth 1.7.5 with @better-auth/scim 1.7.5, SQLite in memory (better-sqlite3)."""

    name = "better-auth"
    script = "better-auth-server.mjs"
    path = "/api/auth/scim/v2"


class FilterIgnoringTarget(ScimClient, FakeTarget):
    """scimfake.FakeTarget with ignore_filter: stores accounts like any SCIM service
    provider, but every `GET /Users` answers with its first users whatever the filter,
    as some real applications do. A client that trusts a filtered look-up without
    checking the answer links a stranger."""

    name = "filter-ignoring"

    def __init__(self, token="fake-token-0123456789"):
        super().__init__(token=token, ignore_filter=True)


class RecordingProxy(ScimClient, LoopbackService):
    """An HTTP/1.1 proxy on a free loopback port that forwards every request to an
    upstream server unchanged and records it with the answer:
    requests() -> [{"method", "path", "body" (parsed JSON or None), "status", "answer",
    "at" (seconds since the proxy started, when the answer came)}].
    `scim_base` is the upstream's SCIM base as seen through the proxy."""

    HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "host",
           "proxy-connection", "te", "upgrade", "content-length"}

    def __init__(self, upstream):
        super().__init__()
        self.upstream = upstream
        up = urllib.parse.urlsplit(upstream.scim_base)
        self.up_host, self.up_port = up.hostname, up.port
        self.scim_base = self.base + up.path
        self.token = upstream.token
        self.log = []
        self.last_at = self.started_at = time.monotonic()

    def respond(self, req):
        hdrs = {k: v for k, v in req.headers.items() if k not in self.HOP}
        conn = HTTPConnection(self.up_host, self.up_port, timeout=60)
        try:
            conn.request(req.method, req.raw_path, body=req.raw or None, headers=hdrs)
            r = conn.getresponse()
            status, headers, payload = r.status, r.getheaders(), r.read()
        except OSError as e:  # the upstream is down: say so as a gateway would
            status, headers = 502, [("Content-Type", "text/plain")]
            payload = ("upstream: %s" % e).encode()
        finally:
            conn.close()
        self.record(req, status, payload)
        return status, payload, [(k, v) for k, v in headers if k.lower() not in self.HOP]

    def record(self, req, status, payload):
        def parse(b):
            if not b:
                return None
            try:
                return json.loads(b.decode("utf-8", "replace"))
            except ValueError:
                return b.decode("utf-8", "replace")
        with self.lock:
            self.last_at = time.monotonic()
            self.log.append({"method": req.method, "path": req.raw_path,
                             "body": parse(req.raw), "status": status,
                             "answer": parse(payload),
                             "at": round(self.last_at - self.started_at, 3)})

    def requests(self):
        with self.lock:
            return list(self.log)

    def count(self):
        with self.lock:
            return len(self.log)

    def quiet_for(self):
        """Seconds since the last request passed through (0 while one is under way)."""
        with self.lock:
            return 0.0 if self.inflight else time.monotonic() - self.last_at
