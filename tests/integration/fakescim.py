"""A small scriptable HTTP server on loopback for tests that need a SCIM target (or a
token endpoint) that behaves in one particular way: echoes the Authorization header in
its errors, ignores filters, serves no /Schemas, and so on. Each request is recorded
(method, path, headers, body); a handler function decides the answer.

    def handle(req):                      # req: Request
        if req.path.startswith("/scim/v2/Users"):
            return 200, {"schemas": [...], "totalResults": 0, "Resources": []}
        return 404, {"detail": "no"}
    with FakeServer(handle) as fake:
        fake.base            # "http://127.0.0.1:PORT"
        fake.requests        # [Request, ...]
"""
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.raw_path = path
        parts = urllib.parse.urlsplit(path)
        self.path = parts.path
        self.query = dict(urllib.parse.parse_qsl(parts.query))
        self.headers = headers  # lower-case names
        self.body = body

    def __repr__(self):
        return "%s %s" % (self.method, self.raw_path)


def list_response(resources, total=None, start=1):
    return {"schemas": [LIST], "totalResults": len(resources) if total is None else total,
            "startIndex": start, "itemsPerPage": len(resources), "Resources": resources}


def scim_error(status, detail):
    return status, {"schemas": [ERROR], "status": str(status), "detail": detail}


class FakeServer:
    def __init__(self, handle):
        self.handle = handle
        self.requests = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                req = Request(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body)
                with fake.lock:
                    fake.requests.append(req)
                status, payload = fake.handle(req)[:2]
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    ctype = "application/scim+json"
                else:
                    data = (payload or "").encode()
                    ctype = "text/plain; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def seen(self, pred=lambda r: True):
        with self.lock:
            return [r for r in self.requests if pred(r)]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
        return False
