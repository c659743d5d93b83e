"""Authentication against the target: HTTP Basic, OAuth 2 client credentials (a token
fetched from the target's /oauth/token and renewed), and a 401 from the target: the rule
shows FAILED with the target's error in the log, and fixing the token recovers."""
import time
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, started

POP = "Code42 Users"


class AuthTest(unittest.TestCase):

    def test_basic_auth(self):
        tgt = started(self, Target(token=None, no_delete=True,
                                   extra=["--basic", "scim:s3cret-pass"]))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        f.user("ada", POP)
        f.setup(population=POP, auth={"method": "BASIC", "username": "scim",
                                      "password": "s3cret-pass", "accessToken": None})
        got = f.ok("GET", "/api/v1/connections/" + f.conn)
        self.assertEqual(got["auth"]["password"], "********")
        self.assertTrue(f.ok("POST", "/api/v1/connections/%s/test" % f.conn)["ok"])
        # The harness's own reads go through Basic as well.
        tgt.token = None
        st, body, _ = tgt.scim("GET", "/Users")
        self.assertEqual(st, 401)
        f.tgt = _BasicView(tgt, "scim", "s3cret-pass")
        f.wait_target_count(1)

    def test_client_credentials_fetches_and_renews_its_token(self):
        tgt = started(self, Target(token="static-for-reads", no_delete=True,
                                   extra=["--client-id", "scimitar",
                                          "--client-secret", "cc-secret-value",
                                          "--token-ttl", "2"]))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        uid = f.user("ada", POP)
        f.setup(population=POP, auth={
            "method": "OAUTH2_CLIENT_CREDENTIALS", "accessToken": None,
            "tokenUrl": tgt.base + "/oauth/token", "clientId": "scimitar",
            "clientSecret": "cc-secret-value"})
        self.assertEqual(f.ok("GET", "/api/v1/connections/" + f.conn)["auth"]["clientSecret"],
                         "********")
        f.wait_target_count(1)
        # Outlive the first token: the next change still arrives.
        time.sleep(3)
        f.patch_user(uid, {"title": "After renewal"})
        f.wait_target("ada", lambda u: u and u.get("title") == "After renewal")
        self.assertEqual(f.status()["status"], "ACTIVE")

    def test_401_fails_then_fixing_the_token_recovers(self):
        tgt = started(self, Target(token="the-right-token", no_delete=True))
        srv = started(self, Serve())
        f = Flow(srv, tgt)
        f.user("ada", POP)
        f.setup(population=POP, auth={"accessToken": "a-wrong-token"})
        entry = wait_until(lambda: [e for e in f.logs() if e["status"] == "FAILED"
                                    and e.get("httpStatus") == 401], timeout=WAIT,
                           what="a FAILED log entry with 401")[0]
        self.assertTrue(entry.get("error"), entry)
        self.assertNotIn("a-wrong-token", str(entry))
        f.wait_status(lambda s: s["status"] in ("FAILED", "QUARANTINED")
                      and s["users"]["failed"] >= 1, what="FAILED status")
        self.assertEqual(f.target_count(), 0)
        f.patch_connection({"auth": {"accessToken": "the-right-token"}})
        f.wait_target_count(1)
        f.wait_status(lambda s: s["status"] == "ACTIVE" and s["users"]["failed"] == 0
                      and s["users"]["success"] == 1, what="recovered")


class _BasicView:
    """A Target seen through HTTP Basic credentials (for the test's own reads)."""

    def __init__(self, tgt, user, password):
        import base64
        self._tgt = tgt
        self._auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.scim_base = tgt.scim_base
        self.token = None

    def scim(self, method, path, body=None, raw=None, headers=None, token=None):
        h = {"Authorization": self._auth}
        h.update(headers or {})
        return self._tgt.scim(method, path, body=body, raw=raw, headers=h, token="")


if __name__ == "__main__":
    unittest.main()
