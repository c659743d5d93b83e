"""Small SCIM targets with one deliberate misbehaviour each, for the interoperability
tests (Python stdlib, in-process, on a free loopback port).

FilterIgnoringTarget: stores accounts like any SCIM service provider (POST, GET, PUT,
PATCH with value-filtered paths, DELETE, userName unique case-insensitively, bearer
auth) but ignores the `filter` query parameter of GET /Users: every list answers with
its first users, as some real applications do. A client that trusts a filtered look-up
without checking the answer links a stranger.

    with FilterIgnoringTarget(token="t") as tgt:
        tgt.create_user({"userName": "stranger"})
        tgt.scim("GET", '/Users?filter=userName eq "ada"')  # -> stranger
"""
import copy
import datetime
import hmac
import json
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

from harness import free_port
from interop import LoopbackServer, ScimClient, USER_SCHEMA

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PATH_RE = re.compile(r'^([A-Za-z$][\w$-]*)(?:\[(\w+) eq "((?:[^"\\]|\\.)*)"\])?(?:\.([\w$-]+))?$')


class ScimFault(Exception):
    def __init__(self, status, detail, scim_type=None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key(d, name):
    """The key of d that equals name case-insensitively (SCIM names are), or name."""
    for k in d:
        if k.lower() == name.lower():
            return k
    return name


def apply_patch_op(res, op, path, value):
    """Applies one PATCH operation to the resource dict res (RFC 7644 §3.5.2, the
    subset a provisioning client sends: plain and sub-attribute paths, one
    `[attr eq "v"]` value filter, and operations without a path)."""
    op = (op or "").lower()
    if op not in ("add", "replace", "remove"):
        raise ScimFault(400, "unknown op %r" % op, "invalidSyntax")
    if not path:
        if op == "remove" or not isinstance(value, dict):
            raise ScimFault(400, "an operation without a path needs an object value",
                            "noTarget" if op == "remove" else "invalidValue")
        for k, v in value.items():
            apply_patch_op(res, op, k, v)
        return
    m = PATH_RE.match(path)
    if not m:
        raise ScimFault(400, "unsupported path %r" % path, "invalidPath")
    attr, fattr, fval, sub = m.groups()
    attr = _key(res, attr)
    if fattr is None:
        if sub is None:
            if op == "remove":
                res.pop(attr, None)
            elif op == "add" and isinstance(res.get(attr), list) and isinstance(value, list):
                res[attr] = res[attr] + value
            else:
                res[attr] = value
            return
        parent = res.setdefault(attr, {})
        if not isinstance(parent, dict):
            raise ScimFault(400, "%s is not complex" % attr, "invalidPath")
        if op == "remove":
            parent.pop(_key(parent, sub), None)
        else:
            parent[_key(parent, sub)] = value
        return
    fval = json.loads('"%s"' % fval)
    items = res.get(attr)
    if items is None:
        items = res[attr] = []
    hits = [e for e in items if isinstance(e, dict) and str(e.get(fattr, "")).lower() == fval.lower()]
    if op == "remove":
        if sub is None:
            res[attr] = [e for e in items if e not in hits]
        else:
            for e in hits:
                e.pop(sub, None)
        if not res[attr]:
            res.pop(attr)
        return
    if not hits:
        entry = {fattr: fval}
        items.append(entry)
        hits = [entry]
    for e in hits:
        if sub is None:
            if not isinstance(value, dict):
                raise ScimFault(400, "a filtered path without a sub-attribute needs an object",
                                "invalidValue")
            e.update(value)
        else:
            e[sub] = value


class FilterIgnoringTarget(ScimClient):
    """See the module docstring. `requests` lists (method, path, body) as received."""

    name = "filter-ignoring"

    def __init__(self, token="fake-token-0123456789"):
        self.token = token
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.scim_base = self.base + "/scim/v2"
        self.lock = threading.Lock()
        self.store = {}  # id -> resource, in creation order
        self.server = None
        self.thread = None

    # ---- the service ------------------------------------------------------------

    def _list(self, query):
        try:
            start = max(int((query.get("startIndex") or ["1"])[0]), 1)
            count = max(int((query.get("count") or ["100"])[0]), 0)
        except ValueError:
            raise ScimFault(400, "startIndex and count must be integers", "invalidValue")
        with self.lock:
            every = list(self.store.values())
        # The misbehaviour: `filter` is not looked at.
        page = every[start - 1:start - 1 + count]
        return 200, {"schemas": [LIST], "totalResults": len(every), "startIndex": start,
                     "itemsPerPage": len(page), "Resources": copy.deepcopy(page)}

    def _check_unique(self, res, own_id=None):
        name = res.get("userName")
        if not isinstance(name, str) or not name:
            raise ScimFault(400, "userName is required", "invalidValue")
        for i, u in self.store.items():
            if i != own_id and u["userName"].lower() == name.lower():
                raise ScimFault(409, "userName %r is taken" % name, "uniqueness")

    def _stamp(self, res, rid, created):
        res["id"] = rid
        res["schemas"] = res.get("schemas") or [USER_SCHEMA]
        res["meta"] = {"resourceType": "User", "created": created, "lastModified": _now(),
                       "location": self.scim_base + "/Users/" + rid}
        return res

    def handle(self, method, path, query, body):
        parts = [p for p in path.split("/") if p]
        if parts[:2] != ["scim", "v2"] or len(parts) < 3 or parts[2] != "Users":
            raise ScimFault(404, "no such endpoint")
        rid = parts[3] if len(parts) > 3 else None
        if rid is None and method == "GET":
            return self._list(query)
        if rid is None and method == "POST":
            if not isinstance(body, dict):
                raise ScimFault(400, "the body must be a JSON object", "invalidSyntax")
            res = {k: v for k, v in body.items() if k not in ("id", "meta")}
            with self.lock:
                self._check_unique(res)
                rid = str(uuid.uuid4())
                self.store[rid] = self._stamp(res, rid, _now())
                return 201, copy.deepcopy(self.store[rid])
        if rid is None:
            raise ScimFault(405, "method not allowed")
        with self.lock:
            cur = self.store.get(rid)
            if cur is None:
                raise ScimFault(404, "User %s not found" % rid)
            if method == "GET":
                return 200, copy.deepcopy(cur)
            if method == "DELETE":
                del self.store[rid]
                return 204, None
            if method == "PUT":
                if not isinstance(body, dict):
                    raise ScimFault(400, "the body must be a JSON object", "invalidSyntax")
                res = {k: v for k, v in body.items() if k not in ("id", "meta")}
                self._check_unique(res, rid)
                self.store[rid] = self._stamp(res, rid, cur["meta"]["created"])
                return 200, copy.deepcopy(self.store[rid])
            if method == "PATCH":
                if not isinstance(body, dict) or PATCHOP not in (body.get("schemas") or []):
                    raise ScimFault(400, "a PatchOp message is required", "invalidSyntax")
                res = copy.deepcopy(cur)
                for op in body.get("Operations") or []:
                    apply_patch_op(res, op.get("op"), op.get("path"), op.get("value"))
                self._check_unique(res, rid)
                self.store[rid] = self._stamp(res, rid, cur["meta"]["created"])
                return 200, copy.deepcopy(self.store[rid])
        raise ScimFault(405, "method not allowed")

    # ---- HTTP -------------------------------------------------------------------

    def start(self):
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                url = urllib.parse.urlsplit(self.path)
                try:
                    scheme, _, cred = (self.headers.get("Authorization") or "").partition(" ")
                    if scheme.lower() != "bearer" or \
                            not hmac.compare_digest(cred.strip().encode(), target.token.encode()):
                        raise ScimFault(401, "invalid bearer token")
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        raise ScimFault(400, "malformed JSON", "invalidSyntax")
                    status, out = target.handle(self.command, url.path,
                                                urllib.parse.parse_qs(url.query), body)
                except ScimFault as f:
                    status = f.status
                    out = {"schemas": [ERROR], "status": str(f.status), "detail": f.detail}
                    if f.scim_type:
                        out["scimType"] = f.scim_type
                except Exception as e:  # a defect here must show, not hang the client
                    status = 500
                    out = {"schemas": [ERROR], "status": "500", "detail": repr(e)}
                data = json.dumps(out).encode() if out is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = serve

        self.server = LoopbackServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
