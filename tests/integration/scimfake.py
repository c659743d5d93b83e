"""A small SCIM 2.0 service provider in Python for the engine's tests: the behaviours of
real targets that `scimitar target` (strict and well-behaved) never shows, each switched
on by a test, and every request recorded.

    with FakeTarget(lacks={"nickName"}, strict_paths=True) as tgt, Serve() as srv:
        f = Flow(srv, tgt)                 # same interface as harness.Target
        ...
        tgt.requests                       # [(method, path, body), ...]

Behaviours:
  lacks          attribute names the target's schema does not have: a POST drops them
                 silently, a PATCH or PUT touching them is 400 invalidPath (as a real
                 target without nickName answers)
  strict_paths   a PATCH add/replace whose value-filter path matches no element is
                 400 noTarget (RFC 7644 3.5.2.3), instead of building the element
  ignore_filter  GET /Users ignores `filter` and returns its accounts from the first
  hooks          {method: fn(path, body) -> (status, body, headers) or None}: a test's
                 own answer for a request (None lets the fake answer); they see every
                 request before authentication, /oauth/token too
  oauth          (client_id, client_secret): POST /oauth/token issues client-credentials
                 tokens (client by HTTP Basic or form fields), each accepted as a bearer
                 token until revoke_tokens(); token_requests counts the requests
  token_ttl      the expires_in of issued tokens (seconds)
  latency        seconds each request is held before it is answered (outside the lock)
  max_results    the largest page a list answers (a client asking for more gets fewer)
  omit_total     list answers without totalResults (the client reads to an empty page)
Users are kept in memory; userName is unique case-insensitively (409 uniqueness).
Every request is recorded with its arrival time (times), and max_inflight is the most
requests the fake was handling at once (counted until just before the answer is sent,
so a client that waits for answers never sees more than it has in flight).
"""
import base64
import copy
import itertools
import json
import re
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import free_port

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def scim_error(status, detail, scim_type=None):
    body = {"schemas": [ERR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return status, body, {}


class PatchError(Exception):
    def __init__(self, status, detail, scim_type):
        super().__init__(detail)
        self.answer = scim_error(status, detail, scim_type)


PATH_RE = re.compile(r'^(?:(urn:[^\[]+):)?([A-Za-z$][\w$-]*)(?:\[(\w+) eq "([^"]*)"\])?'
                     r'(?:\.([A-Za-z$][\w$-]*))?$')


def parse_path(path):
    m = PATH_RE.match(path)
    if not m:
        raise PatchError(400, "cannot parse the path %s" % path, "invalidPath")
    urn, attr, fattr, fval, sub = m.groups()
    return urn, attr, (fattr, fval) if fattr else None, sub


def find_key(obj, name):
    for k in obj:
        if k.lower() == name.lower():
            return k
    return None


class FakeTarget:
    def __init__(self, token="fake-token", lacks=(), strict_paths=False, ignore_filter=False,
                 hooks=None, oauth=None, token_ttl=3600, latency=0.0, max_results=None,
                 omit_total=False):
        self.token = token
        self.oauth = oauth
        self.token_ttl = token_ttl
        self.issued = set()  # tokens from /oauth/token still accepted
        self.token_requests = 0
        self._serial = itertools.count(1)
        self.latency = latency
        self.max_results = max_results
        self.omit_total = omit_total
        self.inflight = 0
        self.max_inflight = 0
        self.lacks = {a.lower() for a in lacks}
        self.strict_paths = strict_paths
        self.ignore_filter = ignore_filter
        self.hooks = dict(hooks or {})
        self.users = {}  # id -> resource
        self.order = []
        self.requests = []
        self.times = []  # time.monotonic() of each recorded request
        self.lock = threading.Lock()
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.scim_base = self.base + "/scim/v2"
        self.server = None

    # ---- life ----------------------------------------------------------------------

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, body, headers=None):
                data = b""
                if body is not None:
                    data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/scim+json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw
                auth = self.headers.get("Authorization", "")
                with fake.lock:
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                try:
                    if fake.latency:
                        time.sleep(fake.latency)
                    status, out, headers = fake.handle(self.command, self.path, body, auth,
                                                       raw)
                finally:
                    with fake.lock:
                        fake.inflight -= 1
                self._answer(status, out, headers)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            # The engine opens up to 256 connections at once: with socketserver's
            # backlog of 5 the rest of the SYNs would be dropped and retried by the
            # kernel after 1, 2, 4... seconds.
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False

    # ---- the harness.Target interface ---------------------------------------------------

    def scim(self, method, path, body=None, raw=None, headers=None, token=None):
        with self.lock:
            return self._dispatch(method, "/scim/v2" + path, body, record=False)[:2] + ({},)

    def user_list(self):
        with self.lock:
            return [copy.deepcopy(self.users[i]) for i in self.order]

    def by_name(self, username):
        for u in self.user_list():
            if u["userName"].lower() == username.lower():
                return u
        return None

    def edit_user(self, username, **changes):
        """Changes an account directly on the target (drift); None removes a key."""
        with self.lock:
            for u in self.users.values():
                if u["userName"].lower() == username.lower():
                    for k, v in changes.items():
                        if v is None:
                            u.pop(k, None)
                        else:
                            u[k] = v
                    return u
        raise KeyError(username)

    def delete_user(self, username):
        with self.lock:
            for i, u in list(self.users.items()):
                if u["userName"].lower() == username.lower():
                    del self.users[i]
                    self.order.remove(i)
                    return
        raise KeyError(username)

    def add_user(self, resource):
        """Creates an account directly (a pre-existing one); returns it."""
        with self.lock:
            return self._create(copy.deepcopy(resource), honour_lacks=False)[1]

    def revoke_tokens(self):
        """Forgets every issued token: the next call with one of them gets 401."""
        with self.lock:
            self.issued.clear()

    def calls(self, method=None, path_part=None):
        with self.lock:
            return [r for r in self.requests if (method is None or r[0] == method) and
                    (path_part is None or path_part in r[1])]

    # ---- serving ------------------------------------------------------------------

    def handle(self, method, path, body, auth, raw=b""):
        with self.lock:
            self.requests.append((method, path, copy.deepcopy(body)))
            self.times.append(time.monotonic())
            hook = self.hooks.get(method)
        if hook:
            ans = hook(path, body)
            if ans is not None:
                return ans
        if self.oauth and method == "POST" and path.split("?")[0] == "/oauth/token":
            return self._token(auth, raw)
        with self.lock:
            bearer = auth[7:] if auth[:7].lower() == "bearer " else None
            ok = not self.token and not self.oauth
            ok = ok or (self.token and bearer == self.token) or bearer in self.issued
            if not ok:
                return scim_error(401, "the bearer token is not valid")
            return self._dispatch(method, path, body)

    def _token(self, auth, raw):
        """RFC 6749 4.4 client credentials (the parts a client exercises)."""
        raw = raw if isinstance(raw, bytes) else b""
        form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
        cid, secret = form.get("client_id"), form.get("client_secret")
        if auth[:6].lower() == "basic ":
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                cid, secret = urllib.parse.unquote(cid), urllib.parse.unquote(secret)
            except ValueError:
                cid = secret = None
        with self.lock:
            self.token_requests += 1
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}, {}
            if (cid, secret) != tuple(self.oauth):
                return 401, {"error": "invalid_client"}, {}
            tok = "fake-access-%d" % next(self._serial)
            self.issued.add(tok)
            return 200, {"access_token": tok, "token_type": "Bearer",
                         "expires_in": self.token_ttl}, {"Cache-Control": "no-store"}

    def _dispatch(self, method, path, body, record=True):
        url = urllib.parse.urlsplit(path)
        parts = url.path.rstrip("/").split("/")
        if parts[:3] != ["", "scim", "v2"]:
            return scim_error(404, "no such endpoint")
        rest = parts[3:]
        q = dict(urllib.parse.parse_qsl(url.query))
        if rest == ["_stats"]:
            counts = {}
            for m, _, _ in self.requests:
                counts[m] = counts.get(m, 0) + 1
            return 200, {"requests": counts, "users": len(self.users)}, {}
        if not rest or rest[0] != "Users":
            return scim_error(404, "no such endpoint")
        if len(rest) == 1:
            if method == "GET":
                return self._list(q)
            if method == "POST":
                return self._create(body)
            return scim_error(405, "method not allowed")
        uid = rest[1]
        if uid not in self.users:
            return scim_error(404, "no user %s" % uid)
        if method == "GET":
            return 200, self.users[uid], {}
        if method == "DELETE":
            del self.users[uid]
            self.order.remove(uid)
            return 204, None, {}
        if method == "PUT":
            return self._put(uid, body)
        if method == "PATCH":
            return self._patch(uid, body)
        return scim_error(405, "method not allowed")

    def _list(self, q):
        users = [self.users[i] for i in self.order]
        f = q.get("filter")
        if f and not self.ignore_filter:
            m = re.match(r'^\s*([\w.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', f, re.I)
            if not m:
                return scim_error(400, "unsupported filter", "invalidFilter")
            attr, val = m.group(1).lower(), m.group(2).replace('\\"', '"').replace("\\\\", "\\")
            if attr == "username":
                users = [u for u in users if u["userName"].lower() == val.lower()]
            elif attr == "externalid":
                users = [u for u in users if u.get("externalId") == val]
            else:
                return scim_error(400, "unsupported filter attribute", "invalidFilter")
        start = max(int(q.get("startIndex", 1)), 1)
        count = int(q.get("count", 100))
        if self.max_results:
            count = min(count, self.max_results)
        page = users[start - 1:start - 1 + count]
        body = {"schemas": [LIST], "totalResults": len(users), "startIndex": start,
                "itemsPerPage": len(page), "Resources": page}
        if self.omit_total:
            del body["totalResults"]
        return 200, body, {}

    def _drop_lacking(self, res):
        for k in list(res):
            if k.lower() in self.lacks:
                del res[k]
        name = res.get("name")
        if isinstance(name, dict):
            for k in list(name):
                if ("name." + k).lower() in self.lacks:
                    del name[k]

    def _create(self, body, honour_lacks=True):
        if not isinstance(body, dict) or not body.get("userName"):
            return scim_error(400, "userName is required", "invalidValue")
        for u in self.users.values():
            if u["userName"].lower() == body["userName"].lower():
                return scim_error(409, "userName %s is taken" % body["userName"], "uniqueness")
        res = copy.deepcopy(body)
        if honour_lacks:
            self._drop_lacking(res)
        res["id"] = str(uuid.uuid4())
        res.setdefault("active", True)
        res["schemas"] = [USER] + ([ENT] if ENT in res else [])
        res["meta"] = {"resourceType": "User"}
        self.users[res["id"]] = res
        self.order.append(res["id"])
        return 201, res, {"Location": self.scim_base + "/Users/" + res["id"]}

    def _check_lacks(self, path_or_keys):
        for p in path_or_keys:
            top = p.split("[")[0].split(".")[0]
            if top.lower() in self.lacks or p.lower() in self.lacks:
                raise PatchError(400, "Attribute '%s' is not defined in the schema" % top,
                                 "invalidPath")

    def _put(self, uid, body):
        if not isinstance(body, dict):
            return scim_error(400, "body", "invalidSyntax")
        try:
            self._check_lacks([k for k in body if k not in ("schemas", "id", "meta")])
        except PatchError as e:
            return e.answer
        res = copy.deepcopy(body)
        res["id"] = uid
        res["meta"] = {"resourceType": "User"}
        self.users[uid] = res
        return 200, res, {}

    def _patch(self, uid, body):
        ops = (body or {}).get("Operations") if isinstance(body, dict) else None
        if not isinstance(ops, list):
            return scim_error(400, "Operations is required", "invalidSyntax")
        work = copy.deepcopy(self.users[uid])
        try:
            for op in ops:
                self._apply(work, op)
        except PatchError as e:
            return e.answer
        self.users[uid] = work
        return 200, work, {}

    def _apply(self, res, op):
        kind = op.get("op", "").lower()
        path = op.get("path")
        value = op.get("value")
        if not path:
            if not isinstance(value, dict):
                raise PatchError(400, "value must be an object", "invalidValue")
            self._check_lacks(list(value))
            for k, v in value.items():
                res[k] = v
            return
        self._check_lacks([path])
        urn, attr, flt, sub = parse_path(path)
        holder = res
        if urn:
            holder = res.setdefault(urn, {})
        key = find_key(holder, attr) or attr
        if flt is None:
            if sub is None:
                if kind == "remove":
                    holder.pop(key, None)
                elif kind == "add" and isinstance(value, list) and isinstance(
                        holder.get(key), list):
                    holder[key] = holder[key] + value
                elif kind == "add" and isinstance(value, dict) and isinstance(
                        holder.get(key), dict):
                    holder[key].update(value)
                else:
                    holder[key] = value
                return
            obj = holder.setdefault(key, {})
            if kind == "remove":
                obj.pop(sub, None)
            else:
                obj[sub] = value
            return
        fattr, fval = flt
        items = holder.get(key) or []
        matches = [x for x in items if isinstance(x, dict) and str(x.get(fattr)) == fval]
        if not matches:
            if kind == "remove":
                return
            if self.strict_paths:
                raise PatchError(400, "the filter %s does not match any values" % path,
                                 "noTarget")
            el = {fattr: fval}
            items.append(el)
            holder[key] = items
            matches = [el]
        for x in matches:
            if kind == "remove":
                if sub is None:
                    items.remove(x)
                else:
                    x.pop(sub, None)
            elif sub is None:
                x.update(value)
            else:
                x[sub] = value
        if not items:
            holder.pop(key, None)
