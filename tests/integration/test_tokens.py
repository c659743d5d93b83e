"""Named admin tokens through the API of a real `scimitar serve` (SQLite, and PostgreSQL
with SCIMITAR_TEST_DB=postgresql): the environment's token is the token "initial"; a
token created through the API is answered once, works at once, is listed with its prefix
and never again in full (nor in the server's log); its last use is recorded; it can
expire; revoking stops it at once (also the token of the revoking request), the last
token cannot be revoked, and every field is validated with the field named. Also
/api/v1/openapi.json: served without a token, every route of `serve --routes` in it."""
import datetime
import re
import unittest

from harness import Serve, http, wait_until


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class TokensTest(unittest.TestCase):
    def test_create_list_use_revoke(self):
        with Serve() as srv:
            st, body, _ = srv.api("GET", "/api/v1/tokens")
            self.assertEqual(st, 200, body)
            self.assertEqual([t["name"] for t in body["items"]], ["initial"])
            initial = body["items"][0]
            # nothing of a chosen (SCIMITAR_ADMIN_TOKEN) token is shown
            self.assertEqual(initial["prefix"], "")
            self.assertIsNone(body["nextCursor"])

            st, made, hdrs = srv.api("POST", "/api/v1/tokens", {"name": "ci pipeline"})
            self.assertEqual(st, 201, made)
            self.assertEqual(hdrs.get("cache-control"), "no-store")
            token = made["token"]
            self.assertTrue(token.startswith("scm_"))
            self.assertEqual(made["prefix"], token[:8])
            self.assertIsNone(made["expiresAt"])
            self.assertIsNone(made["lastUsedAt"])
            # the new token works at once and its use is recorded
            st, _, _ = srv.api("GET", "/api/v1/users", token=token)
            self.assertEqual(st, 200)
            st, body, _ = srv.api("GET", "/api/v1/tokens", token=token)
            self.assertEqual(st, 200)
            mine = [t for t in body["items"] if t["id"] == made["id"]][0]
            self.assertEqual(set(mine), {"id", "name", "createdAt", "lastUsedAt",
                                         "expiresAt", "prefix"})
            self.assertIsNotNone(mine["lastUsedAt"])
            # the token appears in no later answer, nor in the log
            self.assertNotIn(token, str(body))
            st, doc, _ = srv.api("GET", "/api/v1/tokens/" + made["id"])
            self.assertEqual(st, 405)
            # names are unique
            st, err, _ = srv.api("POST", "/api/v1/tokens", {"name": "ci pipeline"})
            self.assertEqual((st, err["error"]["field"]), (409, "name"))
            # revoking the initial token with the new one; the initial one stops at once
            st, _, _ = srv.api("DELETE", "/api/v1/tokens/" + initial["id"], token=token)
            self.assertEqual(st, 204)
            st, _, _ = srv.api("GET", "/api/v1/users")
            self.assertEqual(st, 401)
            # the last token cannot be revoked
            st, err, _ = srv.api("DELETE", "/api/v1/tokens/" + made["id"], token=token)
            self.assertEqual(st, 409, err)
            self.assertIn("last admin token", err["error"]["message"])
            st, err, _ = srv.api("DELETE", "/api/v1/tokens/" + initial["id"], token=token)
            self.assertEqual(st, 404)
            # a second token, then the one in use may revoke itself
            st, other, _ = srv.api("POST", "/api/v1/tokens", {"name": "ops"}, token=token)
            self.assertEqual(st, 201)
            st, _, _ = srv.api("DELETE", "/api/v1/tokens/" + made["id"], token=token)
            self.assertEqual(st, 204)
            st, _, _ = srv.api("GET", "/api/v1/users", token=token)
            self.assertEqual(st, 401)
            st, _, _ = srv.api("GET", "/api/v1/users", token=other["token"])
            self.assertEqual(st, 200)
            log = srv.output()
            self.assertNotIn(token, log)
            self.assertNotIn(other["token"], log)

    def test_validation_and_expiry(self):
        with Serve() as srv:
            cases = [
                ({}, "name"),
                ({"name": 5}, "name"),
                ({"name": ""}, "name"),
                ({"name": "x" * 65}, "name"),
                ({"name": "a\u0001b"}, "name"),
                ({"name": "ok", "expiresAt": "tomorrow"}, "expiresAt"),
                ({"name": "ok", "expiresAt": 5}, "expiresAt"),
                ({"name": "ok", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
                ({"name": "ok", "colour": "red"}, "colour"),
            ]
            for body, field in cases:
                st, err, _ = srv.api("POST", "/api/v1/tokens", body)
                self.assertEqual(st, 400, (body, err))
                self.assertEqual(err["error"]["field"], field, body)
            st, err, _ = srv.api("POST", "/api/v1/tokens", raw="[1]",
                                 headers={"Content-Type": "application/json"})
            self.assertEqual(st, 400)
            # an expiry a few seconds ahead: works, then refused with its own message
            soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
            st, made, _ = srv.api("POST", "/api/v1/tokens", {"name": "short", "expiresAt": iso(soon)})
            self.assertEqual(st, 201, made)
            self.assertEqual(made["expiresAt"][:19], iso(soon)[:19])
            st, _, _ = srv.api("GET", "/api/v1/users", token=made["token"])
            self.assertIn(st, (200, 401))  # 401 only on a machine slower than the expiry

            def expired():
                s, b, _ = srv.api("GET", "/api/v1/users", token=made["token"])
                return s == 401 and "expired" in b["error"]["message"]
            wait_until(expired, timeout=20, what="the token expired")
            # a listed expired token may still be revoked
            st, _, _ = srv.api("DELETE", "/api/v1/tokens/" + made["id"])
            self.assertEqual(st, 204)

    def test_restart_keeps_tokens_and_env_token_comes_back(self):
        with Serve() as srv:
            st, made, _ = srv.api("POST", "/api/v1/tokens", {"name": "kept"})
            self.assertEqual(st, 201)
            st, body, _ = srv.api("GET", "/api/v1/tokens")
            initial = [t for t in body["items"] if t["name"] == "initial"][0]
            st, _, _ = srv.api("DELETE", "/api/v1/tokens/" + initial["id"], token=made["token"])
            self.assertEqual(st, 204)
            db = srv.db
            srv.stop()
            with Serve(db=db, token=srv.token) as again:
                # SCIMITAR_ADMIN_TOKEN sets the token "initial" at every start
                st, body, _ = again.api("GET", "/api/v1/tokens")
                self.assertEqual(st, 200, body)
                self.assertEqual(sorted(t["name"] for t in body["items"]), ["initial", "kept"])
                st, _, _ = again.api("GET", "/api/v1/users", token=made["token"])
                self.assertEqual(st, 200)


class TokensCliTest(unittest.TestCase):
    def test_cli_create_list_revoke(self):
        with Serve() as srv:
            r = srv.cli("tokens", "create", "--name", "backup job", "--expires",
                        "2099-01-01T00:00:00Z", check=True)
            token = re.search(r"(?m)^token\s+(scm_\S+)$", r.stdout).group(1)
            self.assertIn("shown this once", r.stderr)
            self.assertNotIn(token, r.stderr)
            r = srv.cli("tokens", "list", check=True)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0].split()[:3], ["ID", "NAME", "PREFIX"])
            self.assertIn("backup job", r.stdout)
            self.assertIn(token[:8], r.stdout)
            self.assertNotIn(token, r.stdout)
            self.assertIn("2099-01-01T00:00:00.000Z", r.stdout)
            r = srv.cli("tokens", "list", "--json", check=True)
            names = [t["name"] for t in __import__("json").loads(r.stdout)["items"]]
            self.assertEqual(names, ["initial", "backup job"])
            # errors name the field; exit status 1 for a refusal, 2 for bad usage
            r = srv.cli("tokens", "create", "--name", "backup job")
            self.assertEqual(r.returncode, 1)
            self.assertIn("name:", r.stderr)
            r = srv.cli("tokens", "create", "--name", "x", "--expires", "soon")
            self.assertEqual(r.returncode, 1)
            self.assertIn("expiresAt:", r.stderr)
            self.assertEqual(srv.cli("tokens", "create").returncode, 2)
            # revoke by name, then the last one is refused
            r = srv.cli("tokens", "revoke", "initial", check=True)
            self.assertIn("revoked token initial", r.stdout)
            srv.token = token
            r = srv.cli("tokens", "revoke", "backup job")
            self.assertEqual(r.returncode, 1)
            self.assertIn("last admin token", r.stderr)


class OpenAPITest(unittest.TestCase):
    def test_document_covers_every_route(self):
        with Serve() as srv:
            st, doc, hdrs = http("GET", srv.base + "/api/v1/openapi.json")
            self.assertEqual(st, 200)
            self.assertTrue(hdrs["content-type"].startswith("application/json"))
            self.assertEqual(doc["openapi"], "3.1.0")
            routes = srv_routes()
            self.assertTrue(routes)
            for method, path in routes:
                self.assertIn(path, doc["paths"], path)
                self.assertIn(method.lower(), doc["paths"][path], (method, path))
            op = doc["paths"]["/api/v1/tokens"]["post"]
            self.assertEqual(op["requestBody"]["content"]["application/json"]["schema"],
                             {"$ref": "#/components/schemas/AdminTokenInput"})
            self.assertIn("201", op["responses"])
            self.assertEqual(doc["paths"]["/api/v1/openapi.json"]["get"]["security"], [])
            for name in ("User", "Population", "Group", "Connection", "Rule", "MappingRow",
                         "AdminToken", "Error"):
                self.assertIn(name, doc["components"]["schemas"])


class DocsTest(unittest.TestCase):
    def test_every_route_is_in_docs_api_md(self):
        import os
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api.md"),
                  encoding="utf-8") as f:
            doc = f.read()
        rows = {}
        for m in re.finditer(r"(?m)^\| ([A-Z, ]+) \| (/\S+) \|", doc):
            rows.setdefault(m.group(2), set()).update(x.strip() for x in m.group(1).split(","))
        for method, path in srv_routes():
            self.assertIn(method, rows.get(path, set()), "%s %s is not in docs/api.md's routes"
                          % (method, path))


def srv_routes():
    import subprocess
    from harness import BIN
    out = subprocess.run([BIN, "serve", "--routes"], capture_output=True, text=True,
                         check=True).stdout
    return [tuple(line.split()[:2]) for line in out.splitlines()
            if re.match(r"^(GET|POST|PUT|PATCH|DELETE) ", line)]


if __name__ == "__main__":
    unittest.main()
