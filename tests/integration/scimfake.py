"""Fake HTTP services on loopback for the integration tests, on one plumbing: a threading
server whose listen backlog holds the engine's bursts of connections, every request
recorded (`seen()`), and answers written from (status, body[, headers]) where a dict or
list body is sent as application/scim+json, a str as text/plain, bytes as they are.

FakeServer: a scripted server; a function decides every answer.

    def handle(req):                      # req: Request
        if req.path.startswith("/scim/v2/Users"):
            return 200, list_response([])
        return scim_error(404, "no")
    with FakeServer(handle) as fake:
        fake.base                         # "http://127.0.0.1:PORT"
        fake.seen(lambda q: q.path == "/token")   # [Request, ...]

FakeTarget: a small stateful SCIM 2.0 service provider with the behaviours of real
targets that `scimitar target` (strict and well-behaved) never shows, each switched on
by a test.

    with FakeTarget(lacks={"nickName"}, strict_paths=True) as tgt, Serve() as srv:
        f = Flow(srv, tgt)                 # same interface as harness.Target
        ...
        tgt.requests                       # [(method, path with query, body), ...]

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
  bulk           offer SCIM Bulk (RFC 7644 3.7): /ServiceProviderConfig says so and POST
                 /Bulk runs each operation as the single request would (hooks see each
                 operation as its own request: (method, "/scim/v2" + path, data)). A dict
                 of maxOperations (default 1000; more is 413), maxPayloadSize (1 MiB),
                 resources (the created or changed resource in each success's response;
                 default none, as scimitar target) and answer: "ok" (default), "no_ids"
                 (results without bulkId), "drop_last" (the last operation neither run nor
                 answered), "malformed" (the operations run, the answer is no
                 BulkResponse) or a status (the whole request answered with it, nothing
                 run). bulk_log lists (method, path, status) of each operation run; _stats
                 has "bulk": {"requests", "operations", "largest"}
Users are kept in memory, in creation order; userName is unique case-insensitively (409
uniqueness on POST, PUT and PATCH); a PATCH needs the PatchOp message (apply_patch_op).
Every request is recorded with its arrival time (times), and max_inflight is the most
requests the fake was handling at once (counted until just before the answer is sent,
so a client that waits for answers never sees more than it has in flight).
"""
import base64
import copy
import datetime
import itertools
import json
import re
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"


def scim_error(status, detail, scim_type=None):
    """A SCIM Error answer: (status, body, {})."""
    body = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return status, body, {}


def list_response(resources, total=None, start=1):
    """A ListResponse body holding resources (totalResults defaults to their number)."""
    return {"schemas": [LIST], "totalResults": len(resources) if total is None else total,
            "startIndex": start, "itemsPerPage": len(resources), "Resources": resources}


class ScimFault(Exception):
    """A SCIM error raised inside a fake's handling; `answer` is what is sent."""

    def __init__(self, status, detail, scim_type=None):
        super().__init__(detail)
        self.answer = scim_error(status, detail, scim_type)


# ---- the plumbing ------------------------------------------------------------------------

class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog holds the engine's burst of new
    connections (up to 256 per target): with socketserver's default of 5 the kernel
    drops the rest of the SYNs and each dropped connection waits for a retransmission
    (1 s, 3 s, 7 s, ...), which stalls a bulk test for seconds or more."""

    request_queue_size = 1024
    daemon_threads = True


class Request:
    """One request as received: method, raw_path (with the query), path (without it),
    query ({name: value}), headers ({lower-case name: value}), raw (the body's bytes),
    body (its text), data (the body parsed as JSON; the bytes when it is not JSON; None
    when empty) and at (time.monotonic() of its arrival)."""

    def __init__(self, method, raw_path, headers, raw):
        self.method = method
        self.raw_path = raw_path
        url = urllib.parse.urlsplit(raw_path)
        self.path = url.path
        self.query = dict(urllib.parse.parse_qsl(url.query))
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        self.body = raw.decode("utf-8", "replace")
        self.data = None
        if raw:
            try:
                self.data = json.loads(raw)
            except ValueError:
                self.data = raw
        self.at = time.monotonic()

    def __repr__(self):
        return "%s %s" % (self.method, self.raw_path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        self.server.service.serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _write(handler, status, body, headers):
    if isinstance(body, (dict, list)):
        data, ctype = json.dumps(body).encode(), SCIM_JSON
    elif isinstance(body, str):
        data, ctype = body.encode(), "text/plain; charset=utf-8"
    elif body is None:
        data, ctype = b"", None
    else:
        data, ctype = bytes(body), SCIM_JSON
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or ())
    handler.send_response(status)
    if ctype and not any(k.lower() == "content-type" for k, _ in pairs):
        handler.send_header("Content-Type", ctype)
    for k, v in pairs:
        if k.lower() != "content-length":
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if data:
        handler.wfile.write(data)


class LoopbackService:
    """An HTTP service on a free loopback port (bound at construction; `port`, `base`),
    served from start() (or `with`) to stop(). Each request is read whole, recorded,
    and answered by respond(req) -> (status, body) or (status, body, headers), where
    headers is a dict or a list of (name, value). A respond() that raises answers 500
    (with the traceback on stderr): a defect in a fake shows, it does not hang the
    client. inflight and max_inflight count requests from arrival until just before
    their answer is written."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []  # Request, in arrival order
        self.inflight = 0
        self.max_inflight = 0
        self.server = LoopbackServer(("127.0.0.1", 0), _Handler)
        self.server.service = self
        self.port = self.server.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = None

    def respond(self, req):
        raise NotImplementedError

    def serve(self, handler):
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            n = int(handler.headers.get("Content-Length") or 0)
            req = Request(handler.command, handler.path, handler.headers,
                          handler.rfile.read(n) if n else b"")
            with self.lock:
                self.received.append(req)
            answer = tuple(self.respond(req))
        except Exception as e:
            traceback.print_exc()
            answer = scim_error(500, "the fake failed: %r" % e)
        finally:
            with self.lock:
                self.inflight -= 1
        status, body = answer[:2]
        _write(handler, status, body, answer[2] if len(answer) > 2 else None)

    def seen(self, pred=None):
        """The recorded requests (for which pred(req) is true), oldest first."""
        with self.lock:
            return [r for r in self.received if pred is None or pred(r)]

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread:
            self.server.shutdown()
            self.thread.join(timeout=10)
            self.thread = None
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class FakeServer(LoopbackService):
    """A scripted server: handle(req) -> (status, body[, headers]) answers each request."""

    def __init__(self, handle):
        super().__init__()
        self.handle = handle

    def respond(self, req):
        return self.handle(req)


# ---- PATCH -------------------------------------------------------------------------------

PATH_RE = re.compile(r'^(?:(urn:[^\[]+):)?([A-Za-z$][\w$-]*)'
                     r'(?:\[(\w+) (?i:eq) "((?:[^"\\]|\\.)*)"\])?(?:\.([A-Za-z$][\w$-]*))?$')


def find_key(obj, name):
    """The key of obj that equals name case-insensitively (SCIM names are), or None."""
    for k in obj:
        if k.lower() == name.lower():
            return k
    return None


def check_lacks(paths, lacks):
    """Raises 400 invalidPath for the first path into an attribute of lacks (lower-case
    names: a top-level attribute or a full path such as name.givenName)."""
    for p in paths:
        top = p.split("[")[0].split(".")[0]
        if top.lower() in lacks or p.lower() in lacks:
            raise ScimFault(400, "Attribute '%s' is not defined in the schema" % top,
                            "invalidPath")


def apply_patch_op(res, op, lacks=(), strict_paths=False):
    """Applies one PATCH operation ({"op", "path", "value"}) to the resource dict res in
    place (RFC 7644 3.5.2, the subset a provisioning client sends): a plain,
    sub-attribute or extension-URN path, one `[attr eq "v"]` value filter (values
    compared case-insensitively), or no path (each attribute of the value applied as an
    operation of its own). An add merges into a complex value and appends to a list.
    Raises ScimFault: an unknown op, a path it cannot parse, a path into an attribute of
    lacks, and with strict_paths an add or replace whose value filter matches no element
    (400 noTarget) instead of building that element."""
    kind = str(op.get("op") or "").lower()
    path, value = op.get("path"), op.get("value")
    if kind not in ("add", "replace", "remove"):
        raise ScimFault(400, "unknown op %r" % op.get("op"), "invalidSyntax")
    if not path:
        if kind == "remove" or not isinstance(value, dict):
            raise ScimFault(400, "an operation without a path needs an object value",
                            "noTarget" if kind == "remove" else "invalidValue")
        for k, v in value.items():
            if k.lower().startswith("urn:") and isinstance(v, dict):  # an extension's
                for sk, sv in v.items():
                    apply_patch_op(res, {"op": kind, "path": k + ":" + sk, "value": sv},
                                   lacks, strict_paths)
            else:
                apply_patch_op(res, {"op": kind, "path": k, "value": v}, lacks, strict_paths)
        return
    check_lacks([path], lacks)
    m = PATH_RE.match(path)
    if not m:
        raise ScimFault(400, "cannot parse the path %s" % path, "invalidPath")
    urn, attr, fattr, fval, sub = m.groups()
    holder = res
    if urn and urn.lower() != USER.lower():
        ukey = find_key(res, urn) or urn
        if kind == "remove" and not isinstance(res.get(ukey), dict):
            return
        holder = res.setdefault(ukey, {})
    key = find_key(holder, attr) or attr
    if fattr is None:
        if sub is None:
            cur = holder.get(key)
            if kind == "remove":
                holder.pop(key, None)
            elif kind == "add" and isinstance(value, list) and isinstance(cur, list):
                holder[key] = cur + value
            elif kind == "add" and isinstance(value, dict) and isinstance(cur, dict):
                cur.update(value)
            else:
                holder[key] = value
            return
        if kind == "remove" and key not in holder:
            return
        obj = holder.setdefault(key, {})
        if not isinstance(obj, dict):
            raise ScimFault(400, "%s is not complex" % attr, "invalidPath")
        skey = find_key(obj, sub) or sub
        if kind == "remove":
            obj.pop(skey, None)
        else:
            obj[skey] = value
        return
    fval = json.loads('"%s"' % fval)
    items = holder.get(key) or []
    if not isinstance(items, list):
        raise ScimFault(400, "%s is not multi-valued" % attr, "invalidPath")
    matches = [x for x in items if isinstance(x, dict) and
               str(x.get(find_key(x, fattr) or fattr, "")).lower() == fval.lower()]
    if not matches:
        if kind == "remove":
            return
        if strict_paths:
            raise ScimFault(400, "the filter %s does not match any values" % path, "noTarget")
        el = {fattr: fval}
        items.append(el)
        holder[key] = items
        matches = [el]
    for x in matches:
        if kind == "remove":
            if sub is None:
                items = [y for y in items if y is not x]
            else:
                x.pop(find_key(x, sub) or sub, None)
        elif sub is None:
            if not isinstance(value, dict):
                raise ScimFault(400, "a value-filter path without a sub-attribute needs an "
                                "object value", "invalidValue")
            x.update(value)
        else:
            x[find_key(x, sub) or sub] = value
    if items:
        holder[key] = items
    else:
        holder.pop(key, None)


# ---- the stateful target -----------------------------------------------------------------

def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeTarget(LoopbackService):
    """See the module docstring."""

    def __init__(self, token="fake-token", lacks=(), strict_paths=False, ignore_filter=False,
                 hooks=None, oauth=None, token_ttl=3600, latency=0.0, max_results=None,
                 omit_total=False, bulk=None):
        super().__init__()
        self.bulk = dict(bulk) if bulk is not None else None
        self.bulk_log = []
        self.bulk_counts = {"requests": 0, "operations": 0, "largest": 0}
        self.token = token
        self.oauth = oauth
        self.token_ttl = token_ttl
        self.issued = set()  # tokens from /oauth/token still accepted
        self.token_requests = 0
        self._serial = itertools.count(1)
        self.latency = latency
        self.max_results = max_results
        self.omit_total = omit_total
        self.lacks = {a.lower() for a in lacks}
        self.strict_paths = strict_paths
        self.ignore_filter = ignore_filter
        self.hooks = dict(hooks or {})
        self.store = {}  # id -> resource, in creation order
        self.scim_base = self.base + "/scim/v2"

    # ---- the harness.Target interface ---------------------------------------------------

    @property
    def requests(self):
        """[(method, path with its query, body as Request.data)], in arrival order."""
        return [(r.method, r.raw_path, r.data) for r in self.seen()]

    @property
    def times(self):
        """time.monotonic() of each recorded request's arrival."""
        return [r.at for r in self.seen()]

    def calls(self, method=None, path_part=None):
        return [r for r in self.requests if (method is None or r[0] == method) and
                (path_part is None or path_part in r[1])]

    def scim(self, method, path, body=None, raw=None, headers=None, token=None):
        """A call of the SCIM API without HTTP, authentication or recording."""
        with self.lock:
            try:
                status, out, _ = self._dispatch(method, "/scim/v2" + path, copy.deepcopy(body))
            except ScimFault as f:
                status, out, _ = f.answer
            return status, copy.deepcopy(out), {}

    def user_list(self):
        with self.lock:
            return copy.deepcopy(list(self.store.values()))

    def by_name(self, username):
        for u in self.user_list():
            if u["userName"].lower() == username.lower():
                return u
        return None

    def _named(self, username):
        for rid, u in self.store.items():
            if u["userName"].lower() == username.lower():
                return rid, u
        raise KeyError(username)

    def edit_user(self, username, **changes):
        """Changes an account directly on the target (drift); None removes a key."""
        with self.lock:
            _, u = self._named(username)
            for k, v in changes.items():
                if v is None:
                    u.pop(k, None)
                else:
                    u[k] = v
            return copy.deepcopy(u)

    def delete_user(self, username):
        with self.lock:
            del self.store[self._named(username)[0]]

    def add_user(self, resource):
        """Creates an account directly (a pre-existing one, lacks not applied); returns it."""
        with self.lock:
            return copy.deepcopy(self._create(copy.deepcopy(resource), honour_lacks=False)[1])

    def revoke_tokens(self):
        """Forgets every issued token: the next call with one of them gets 401."""
        with self.lock:
            self.issued.clear()

    # ---- serving ------------------------------------------------------------------

    def respond(self, req):
        if self.latency:
            time.sleep(self.latency)
        body = copy.deepcopy(req.data)
        hook = self.hooks.get(req.method)
        if hook:
            ans = hook(req.raw_path, body)
            if ans is not None:
                return ans
        auth = req.headers.get("authorization", "")
        if self.oauth and req.method == "POST" and req.path == "/oauth/token":
            return self._token(auth, req.body)
        bearer = auth[7:] if auth[:7].lower() == "bearer " else None
        with self.lock:
            ok = not self.token and not self.oauth
            ok = ok or (self.token and bearer == self.token) or bearer in self.issued
            if not ok:
                return scim_error(401, "the bearer token is not valid")
            try:
                status, out, headers = self._dispatch(req.method, req.raw_path, body)
            except ScimFault as f:
                return f.answer
            return status, copy.deepcopy(out), headers

    def _token(self, auth, text):
        """RFC 6749 4.4 client credentials (the parts a client exercises)."""
        form = dict(urllib.parse.parse_qsl(text))
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

    def _dispatch(self, method, path, body):
        """The SCIM API (the lock held): (status, body, headers), or raises ScimFault."""
        url = urllib.parse.urlsplit(path)
        parts = url.path.rstrip("/").split("/")
        if parts[:3] != ["", "scim", "v2"]:
            raise ScimFault(404, "no such endpoint")
        rest = parts[3:]
        if rest == ["_stats"]:
            counts = {}
            for r in self.received:
                counts[r.method] = counts.get(r.method, 0) + 1
            return 200, {"requests": counts, "users": len(self.store),
                         "bulk": dict(self.bulk_counts)}, {}
        if rest == ["ServiceProviderConfig"] and self.bulk is not None and method == "GET":
            return 200, self._spc(), {}
        if rest == ["Bulk"] and self.bulk is not None and method == "POST":
            return self._bulk(body)
        if not rest or rest[0] != "Users":
            raise ScimFault(404, "no such endpoint")
        if len(rest) == 1:
            if method == "GET":
                return self._list(dict(urllib.parse.parse_qsl(url.query)))
            if method == "POST":
                return self._create(body)
            raise ScimFault(405, "method not allowed")
        rid = rest[1]
        if rid not in self.store:
            raise ScimFault(404, "no user %s" % rid)
        if method == "GET":
            return 200, self.store[rid], {}
        if method == "DELETE":
            del self.store[rid]
            return 204, None, {}
        if method == "PUT":
            return self._put(rid, body)
        if method == "PATCH":
            return self._patch(rid, body)
        raise ScimFault(405, "method not allowed")

    def _spc(self):
        return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": True},
                "bulk": {"supported": True,
                         "maxOperations": self.bulk.get("maxOperations", 1000),
                         "maxPayloadSize": self.bulk.get("maxPayloadSize", 1048576)},
                "filter": {"supported": True, "maxResults": 1000},
                "changePassword": {"supported": False}, "sort": {"supported": False},
                "etag": {"supported": False}, "authenticationSchemes": []}

    def _bulk(self, body):
        """POST /Bulk (the lock held): each operation as its single request would run."""
        answer = self.bulk.get("answer", "ok")
        if isinstance(answer, int):
            raise ScimFault(answer, "Bulk is not available here")
        if not isinstance(body, dict) or not isinstance(body.get("Operations"), list) or \
                "urn:ietf:params:scim:api:messages:2.0:BulkRequest" not in body.get("schemas", []):
            raise ScimFault(400, "a BulkRequest is required", "invalidSyntax")
        ops = body["Operations"]
        if len(ops) > self.bulk.get("maxOperations", 1000):
            raise ScimFault(413, "too many operations")
        self.bulk_counts["requests"] += 1
        self.bulk_counts["operations"] += len(ops)
        self.bulk_counts["largest"] = max(self.bulk_counts["largest"], len(ops))
        if answer == "drop_last":
            ops = ops[:-1]
        out = []
        for op in ops:
            method, path = op.get("method"), op.get("path") or ""
            hook = self.hooks.get(method)
            ans = hook("/scim/v2" + path, copy.deepcopy(op.get("data"))) if hook else None
            if ans is None:
                try:
                    ans = self._dispatch(method, "/scim/v2" + path, copy.deepcopy(op.get("data")))
                except ScimFault as f:
                    ans = f.answer
            status, res = ans[0], ans[1]
            self.bulk_log.append((method, path, status))
            r = {"method": method, "status": str(status)}
            if answer != "no_ids" and op.get("bulkId"):
                r["bulkId"] = op["bulkId"]
            if 200 <= status < 300:
                if isinstance(res, dict) and res.get("id"):
                    r["location"] = self.scim_base + "/Users/" + res["id"]
                elif method != "DELETE":
                    r["location"] = self.scim_base + path
                if self.bulk.get("resources") and res is not None:
                    r["response"] = copy.deepcopy(res)
            else:
                r["response"] = res
            out.append(r)
        if answer == "malformed":
            return 200, list_response([]), {}
        return 200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
                     "Operations": out}, {}

    def _list(self, q):
        users = list(self.store.values())
        f = q.get("filter")
        if f and not self.ignore_filter:
            m = re.match(r'^\s*([\w.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', f, re.I)
            if not m:
                raise ScimFault(400, "unsupported filter", "invalidFilter")
            attr, val = m.group(1).lower(), m.group(2).replace('\\"', '"').replace("\\\\", "\\")
            if attr == "username":
                users = [u for u in users if u["userName"].lower() == val.lower()]
            elif attr == "externalid":
                users = [u for u in users if u.get("externalId") == val]
            else:
                raise ScimFault(400, "unsupported filter attribute", "invalidFilter")
        try:
            start = max(int(q.get("startIndex", 1)), 1)
            count = max(int(q.get("count", 100)), 0)
        except ValueError:
            raise ScimFault(400, "startIndex and count must be integers", "invalidValue")
        if self.max_results:
            count = min(count, self.max_results)
        body = list_response(users[start - 1:start - 1 + count], len(users), start)
        if self.omit_total:
            del body["totalResults"]
        return 200, body, {}

    def _check_unique(self, res, own_id=None):
        name = res.get("userName")
        if not isinstance(name, str) or not name:
            raise ScimFault(400, "userName is required", "invalidValue")
        for rid, u in self.store.items():
            if rid != own_id and u["userName"].lower() == name.lower():
                raise ScimFault(409, "userName %s is taken" % name, "uniqueness")

    def _stamp(self, res, rid, created=None):
        """Stores res as account rid with its id, schemas and meta; returns it."""
        res["id"] = rid
        res["schemas"] = [USER] + ([ENTERPRISE] if ENTERPRISE in res else [])
        now = _now()
        res["meta"] = {"resourceType": "User", "created": created or now,
                       "lastModified": now, "location": self.scim_base + "/Users/" + rid}
        self.store[rid] = res
        return res

    @staticmethod
    def _created(res):
        meta = res.get("meta")
        return meta.get("created") if isinstance(meta, dict) else None

    def _object(self, body):
        if not isinstance(body, dict):
            raise ScimFault(400, "the body must be a JSON object", "invalidSyntax")
        return {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "meta")}

    def _create(self, body, honour_lacks=True):
        res = self._object(body)
        self._check_unique(res)
        if honour_lacks:
            for k in list(res):
                if k.lower() in self.lacks:
                    del res[k]
            name = res.get("name")
            if isinstance(name, dict):
                for k in list(name):
                    if ("name." + k).lower() in self.lacks:
                        del name[k]
        res.setdefault("active", True)
        res = self._stamp(res, str(uuid.uuid4()))
        return 201, res, {"Location": res["meta"]["location"]}

    def _put(self, rid, body):
        res = self._object(body)
        check_lacks([k for k in res if k != "schemas"], self.lacks)
        self._check_unique(res, rid)
        return 200, self._stamp(res, rid, self._created(self.store[rid])), {}

    def _patch(self, rid, body):
        if not isinstance(body, dict) or PATCHOP not in (body.get("schemas") or []) or \
                not isinstance(body.get("Operations"), list):
            raise ScimFault(400, "a PatchOp message with Operations is required",
                            "invalidSyntax")
        work = copy.deepcopy(self.store[rid])
        for op in body["Operations"]:
            if not isinstance(op, dict):
                raise ScimFault(400, "an operation must be an object", "invalidSyntax")
            apply_patch_op(work, op, self.lacks, self.strict_paths)
        self._check_unique(work, rid)
        return 200, self._stamp(work, rid, self._created(work)), {}
