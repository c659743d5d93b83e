"""Security of connections against small fake targets on loopback: a secret that looks
like the mask does not hang the server; credentials a target echoes back (the Basic
form, a fetched access token, header values) never show in Test Connection, even when
cut by the length limit; stored secrets are not sent to another host by a test or a
PATCH that changes the base URL or token URL; the client authenticates once at the
token endpoint (Basic by default, or in the form); a huge expires_in does not make the
engine fetch a token for every call."""
import base64
import json
import unittest
import urllib.parse

from harness import Serve, Target
from scimfake import FakeServer, list_response, scim_error
from seedflow import WAIT, Flow, started


def echo_auth(status=401, prefix=""):
    """A target that refuses every request and echoes its Authorization header (and
    X-Api-Key) in the error's detail."""
    def handle(req):
        return scim_error(status, "%sbad credentials: Authorization: %s; key %s" % (
            prefix, req.headers.get("authorization", "-"), req.headers.get("x-api-key", "-")))
    return handle


def accept_all(req):
    if req.path.endswith("/Users"):
        return 200, list_response([])
    return 404, {"detail": "not here"}


class ConnSecurityTest(unittest.TestCase):

    def setUp(self):
        self.srv = started(self, Serve())

    def report(self, body, cid=None):
        path = "/api/v1/connections/%s/test" % cid if cid else "/api/v1/connections/test"
        st, r, _ = self.srv.api("POST", path, body)
        self.assertEqual(st, 200, r)
        return r

    def failed_step(self, report):
        bad = [s for s in report["steps"] if not s["ok"]]
        self.assertTrue(bad, report)
        return bad[0]

    def test_secret_of_stars_does_not_hang_the_server(self):
        """A token of 4-7 '*' was rewritten to itself and searched for forever."""
        with FakeServer(echo_auth()) as fake:
            for tok in ("****", "*****", "*******"):
                r = self.report({"scim": {"baseUrl": fake.base + "/scim/v2"},
                                      "auth": {"accessToken": tok}})
                step = self.failed_step(r)
                self.assertEqual(step["name"], "Authentication")
                self.assertIn("the target says", step["detail"])
            # the server still answers
            st, _, _ = self.srv.api("GET", "/api/v1/connections")
            self.assertEqual(st, 200)

    def test_echoed_basic_credentials_are_masked(self):
        with FakeServer(echo_auth()) as fake:
            r = self.report({"scim": {"baseUrl": fake.base + "/scim/v2"},
                                  "auth": {"method": "BASIC", "username": "svc-user",
                                           "password": "pw-SECRET-9"},
                                  "headers": {"X-Api-Key": "hdr-SECRET-7"}})
            text = json.dumps(r)
            b64 = base64.b64encode(b"svc-user:pw-SECRET-9").decode()
            self.assertNotIn(b64, text)
            self.assertNotIn(b64[:12], text)
            self.assertNotIn("SECRET", text)
            step = self.failed_step(r)
            self.assertIn("Basic ********", step["detail"])
            self.assertIn("key ********", step["detail"])
            # the request did carry them: the masking is what hid them
            seen = fake.seen(lambda q: q.path.endswith("/Users"))
            self.assertEqual(seen[0].headers["authorization"], "Basic " + b64)

    def test_echoed_fetched_token_is_masked_even_when_cut(self):
        token = "FETCHED-access-token-" + "x" * 40

        def handle(req):
            if req.path == "/token":
                return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 60}
            # the echoed token straddles the 300-character limit of the target's words
            return echo_auth(403, prefix="y" * 250)(req)
        with FakeServer(handle) as fake:
            r = self.report({"scim": {"baseUrl": fake.base + "/scim/v2"},
                                  "auth": {"method": "OAUTH2_CLIENT_CREDENTIALS",
                                           "tokenUrl": fake.base + "/token",
                                           "clientId": "cid", "clientSecret": "cc-SECRET"}})
            text = json.dumps(r)
            self.assertNotIn("FETCHED", text)
            self.assertNotIn("SECRET", text)
            step = self.failed_step(r)
            self.assertEqual(step["name"], "Authentication")
            self.assertIn("Bearer ***", step["detail"])
            self.assertIn("Bearer " + token,
                          fake.seen(lambda q: q.path.endswith("/Users"))[0].headers["authorization"])

    def test_stored_secrets_stay_with_their_host(self):
        with FakeServer(accept_all) as good, FakeServer(accept_all) as evil:
            body = {"name": "Bound", "scim": {"baseUrl": good.base + "/scim/v2"},
                    "auth": {"accessToken": "stored-SECRET-tok"},
                    "headers": {"X-Api-Key": "stored-SECRET-hdr"}}
            st, conn, _ = self.srv.api("POST", "/api/v1/connections", body)
            self.assertEqual(st, 201, conn)
            cid = conn["id"]
            moved = {"scim": {"baseUrl": evil.base + "/scim/v2"}}
            # a test with unsaved edits, a test of a whole body with the id, a PATCH
            for method, path, b in (
                    ("POST", "/api/v1/connections/%s/test" % cid, moved),
                    ("POST", "/api/v1/connections/test", dict(conn, **moved)),
                    ("PATCH", "/api/v1/connections/" + cid, moved)):
                st, err, _ = self.srv.api(method, path, b)
                self.assertEqual(st, 400, (path, err))
                self.assertEqual(err["error"]["field"], "auth.accessToken")
                self.assertIn("enter the OAuth Access Token again", err["error"]["message"])
            # the token given again: now the header is asked for
            st, err, _ = self.srv.api("POST", "/api/v1/connections/%s/test" % cid,
                                      {"scim": moved["scim"], "auth": {"accessToken": "new-tok"}})
            self.assertEqual(st, 400, err)
            self.assertEqual(err["error"]["field"], "headers.X-Api-Key")
            self.assertEqual(evil.seen(), [], "nothing was sent to the other host")
            # both given again: the test goes there with the new values only
            r = self.report({"scim": moved["scim"], "auth": {"accessToken": "new-tok"},
                                  "headers": {"X-Api-Key": "new-hdr"}}, cid)
            self.assertIs(r["ok"], True, r)
            for q in evil.seen():
                self.assertNotIn("stored-SECRET", json.dumps(q.headers))
            self.assertEqual(evil.seen()[0].headers["authorization"], "Bearer new-tok")
            # a path on the same host keeps the stored secrets
            st, got, _ = self.srv.api("PATCH", "/api/v1/connections/" + cid,
                                      {"scim": {"baseUrl": good.base + "/other/v2"}})
            self.assertEqual(st, 200, got)
            r = self.report(None, cid)
            self.assertIs(r["ok"], True, r)
            self.assertEqual(good.seen()[-1].headers["authorization"], "Bearer stored-SECRET-tok")
            self.assertNotIn("stored-SECRET", self.srv.output())

    def test_client_secret_stays_with_its_token_url(self):
        def handle(req):
            if req.path == "/token":
                return 200, {"access_token": "tok-1", "expires_in": 60}
            return accept_all(req)
        with FakeServer(handle) as good, FakeServer(handle) as evil:
            st, conn, _ = self.srv.api("POST", "/api/v1/connections", {
                "name": "CC", "scim": {"baseUrl": good.base + "/scim/v2"},
                "auth": {"method": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": good.base + "/token",
                         "clientId": "cid", "clientSecret": "cc-SECRET"}})
            self.assertEqual(st, 201, conn)
            for change in ({"auth": {"tokenUrl": evil.base + "/token"}},
                           {"scim": {"baseUrl": evil.base + "/scim/v2"}}):
                st, err, _ = self.srv.api("POST", "/api/v1/connections/%s/test" % conn["id"],
                                          change)
                self.assertEqual(st, 400, err)
                self.assertEqual(err["error"]["field"], "auth.clientSecret")
                self.assertIn("enter the Client Secret", err["error"]["message"])
            self.assertEqual(evil.seen(), [])

    def test_client_authenticates_once_at_the_token_endpoint(self):
        def handle(req):
            if req.path == "/token":
                return 200, {"access_token": "tok-1", "expires_in": 60}
            return accept_all(req)
        with FakeServer(handle) as fake:
            body = {"name": "CC", "scim": {"baseUrl": fake.base + "/scim/v2"},
                    "auth": {"method": "OAUTH2_CLIENT_CREDENTIALS",
                             "tokenUrl": fake.base + "/token", "clientId": "cid",
                             "clientSecret": "cc-SECRET", "scope": "scim"}}
            st, conn, _ = self.srv.api("POST", "/api/v1/connections", body)
            self.assertEqual(st, 201, conn)
            self.assertEqual(conn["auth"]["tokenEndpointAuthMethod"], "client_secret_basic")
            self.assertIs(self.report(None, conn["id"])["ok"], True)
            req = fake.seen(lambda q: q.path == "/token")[-1]
            self.assertEqual(req.headers.get("authorization"),
                             "Basic " + base64.b64encode(b"cid:cc-SECRET").decode())
            form = urllib.parse.parse_qs(req.body)
            self.assertEqual(form, {"grant_type": ["client_credentials"], "scope": ["scim"]})
            # client_secret_post (case-insensitive on input)
            st, got, _ = self.srv.api("PATCH", "/api/v1/connections/" + conn["id"],
                                      {"auth": {"tokenEndpointAuthMethod": "Client_Secret_Post"}})
            self.assertEqual(st, 200, got)
            self.assertEqual(got["auth"]["tokenEndpointAuthMethod"], "client_secret_post")
            self.assertIs(self.report(None, conn["id"])["ok"], True)
            req = fake.seen(lambda q: q.path == "/token")[-1]
            self.assertNotIn("authorization", req.headers)
            form = urllib.parse.parse_qs(req.body)
            self.assertEqual(form["client_id"], ["cid"])
            self.assertEqual(form["client_secret"], ["cc-SECRET"])
            st, err, _ = self.srv.api("PATCH", "/api/v1/connections/" + conn["id"],
                                      {"auth": {"tokenEndpointAuthMethod": "private_key_jwt"}})
            self.assertEqual(st, 400, err)
            self.assertEqual(err["error"]["field"], "auth.tokenEndpointAuthMethod")

    def test_huge_expires_in_keeps_one_token(self):
        """expires_in 2^63-1 overflowed the lifetime in milliseconds: every call fetched
        a new token (and UBSan aborted)."""
        tgt = started(self, Target(token="static-tok", no_delete=True))

        def handle(req):
            return 200, {"access_token": "static-tok", "expires_in": 9223372036854775807}
        fake = FakeServer(handle).__enter__()
        self.addCleanup(fake.__exit__, None, None, None)
        f = Flow(self.srv, tgt)
        for name in ("ada", "bob", "cy"):
            f.user(name, "Code42 Users")
        f.setup(population="Code42 Users", auth={
            "method": "OAUTH2_CLIENT_CREDENTIALS", "accessToken": None,
            "tokenUrl": fake.base + "/token", "clientId": "cid", "clientSecret": "cc-SECRET"})
        f.wait_target_count(3)
        for name in ("dee", "eve"):
            f.user(name, "Code42 Users")
        f.wait_target_count(5, timeout=WAIT)
        self.assertEqual(len(fake.seen()), 1, fake.seen())


if __name__ == "__main__":
    unittest.main()
