"""Authentication against the target: HTTP Basic, OAuth 2 client credentials (a token
fetched from the target's /oauth/token and renewed), and a 401 from the target: the rule
shows FAILED with the target's error in the log, and fixing the token recovers."""
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
        f.wait_status(lambda s: s["users"]["success"] == 1 and s["pending"] == 0,
                      what="ada synced")

        def token_requests():
            # the target counts /oauth/token among its POSTs; the only SCIM POST is
            # ada's create (one account, one CREATE in the log)
            return f.stats().get("POST", 0) - 1

        self.assertEqual(token_requests(), 1)
        # Keep changing ada until the engine has fetched a second token (the first one
        # lives 2 s and is renewed before that): every change arrives, none fails.
        changes = []

        def renewed():
            title = "Change %d" % (len(changes) + 1)
            f.patch_user(uid, {"title": title})
            f.wait_target("ada", lambda u: u and u.get("title") == title)
            changes.append(title)
            return token_requests() >= 2
        wait_until(renewed, timeout=WAIT, interval=0.3, what="a second token fetched")
        f.wait_status(lambda s: s["status"] == "ACTIVE" and s["pending"] == 0,
                      what="the last change recorded")
        self.assertEqual(token_requests(), 2)
        self.assertEqual(f.target_count(), 1)
        self.assertEqual(len(f.logs(action="CREATE")), 1)
        self.assertEqual(f.logs(status="FAILED"), [])
        self.assertEqual(len(f.logs(action="UPDATE", status="SUCCESS")), len(changes))

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
        # One user whose calls are refused: FAILED. (Quarantine needs 8 failed calls in
        # the window; this user's retries back off from 0.5 s and double, so the 8th
        # call comes more than 45 s after the first, long after this check.)
        s = f.wait_status(lambda s: s["users"]["failed"] == 1, what="ada FAILED")
        self.assertEqual(s["status"], "FAILED")
        self.assertNotIn("quarantineReason", s)
        self.assertLess(len(f.logs(status="FAILED")), 8)
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
