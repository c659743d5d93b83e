"""Authentication of `scimitar target`: a static bearer token (Bearer scheme only),
HTTP Basic, OAuth 2 client credentials through its own POST /oauth/token with
short-lived tokens, 401 with WWW-Authenticate on every failure, and no authentication
at all when none is configured."""
import base64
import unittest
from urllib.parse import urlencode

from harness import Target, http, wait_until

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class BearerTest(unittest.TestCase):
    def test_bearer_token(self):
        with Target(token="s3cret-token") as tgt:
            url = tgt.scim_base + "/Users"
            st, body, h = http("GET", url)
            self.assertEqual(st, 401, body)
            self.assertTrue(h["www-authenticate"].startswith("Bearer"), h)
            self.assertEqual(body["status"], "401")
            self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", body["schemas"])
            st, body, h = http("GET", url, headers={"Authorization": "Bearer wrong"})
            self.assertEqual(st, 401)
            self.assertIn('error="invalid_token"', h["www-authenticate"])
            # strict like Code42: the token only counts with the Bearer scheme
            for scheme in ("Token", "OAuth", "Basic"):
                st, _, h = http("GET", url, headers={"Authorization": scheme + " s3cret-token"})
                self.assertEqual(st, 401, scheme)
                self.assertIn("www-authenticate", h)
            st, _, _ = http("GET", url, headers={"Authorization": "s3cret-token"})
            self.assertEqual(st, 401)
            st, body, _ = http("GET", url, headers={"Authorization": "Bearer s3cret-token"})
            self.assertEqual(st, 200, body)
            st, body, _ = http("GET", url, headers={"Authorization": "bearer s3cret-token"})
            self.assertEqual(st, 200, body)  # the scheme name is case-insensitive (RFC 7235)
            # the token never reaches the log
            self.assertNotIn("s3cret-token", tgt.output())

    def test_no_auth_configured(self):
        with Target(token=None) as tgt:
            st, body, _ = http("GET", tgt.scim_base + "/Users")
            self.assertEqual(st, 200, body)
            st, spc, _ = http("GET", tgt.scim_base + "/ServiceProviderConfig")
            self.assertEqual(spc["authenticationSchemes"], [])


class BasicTest(unittest.TestCase):
    def test_basic(self):
        with Target(token=None, extra=["--basic", "admin:pa:ss"]) as tgt:
            url = tgt.scim_base + "/Users"
            st, _, h = http("GET", url)
            self.assertEqual(st, 401)
            self.assertTrue(h["www-authenticate"].startswith("Basic"), h)
            st, _, h = http("GET", url, headers={"Authorization": basic("admin", "wrong")})
            self.assertEqual(st, 401)
            self.assertTrue(h["www-authenticate"].startswith("Basic"), h)
            st, _, _ = http("GET", url, headers={"Authorization": "Basic !!notbase64"})
            self.assertEqual(st, 401)
            st, _, _ = http("GET", url, headers={"Authorization": "Bearer admin"})
            self.assertEqual(st, 401)
            st, body, _ = http("GET", url, headers={"Authorization": basic("admin", "pa:ss")})
            self.assertEqual(st, 200, body)
            st, spc, _ = http("GET", tgt.scim_base + "/ServiceProviderConfig",
                              headers={"Authorization": basic("admin", "pa:ss")})
            self.assertEqual([a["type"] for a in spc["authenticationSchemes"]], ["httpbasic"])


class OAuthTest(unittest.TestCase):
    def token(self, tgt, form, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return http("POST", tgt.base + "/oauth/token", raw=urlencode(form), headers=h)

    def test_client_credentials(self):
        with Target(token=None, extra=["--client-id", "app", "--client-secret", "shh"]) as tgt:
            url = tgt.scim_base + "/Users"
            st, _, h = http("GET", url)
            self.assertEqual(st, 401)
            self.assertTrue(h["www-authenticate"].startswith("Bearer"))
            # client authentication in the form body
            st, tok, h = self.token(tgt, {"grant_type": "client_credentials",
                                          "client_id": "app", "client_secret": "shh"})
            self.assertEqual(st, 200, tok)
            self.assertEqual(tok["token_type"], "Bearer")
            self.assertEqual(tok["expires_in"], 3600)
            self.assertEqual(h.get("cache-control"), "no-store")
            access = tok["access_token"]
            st, body, _ = http("GET", url, headers={"Authorization": "Bearer " + access})
            self.assertEqual(st, 200, body)
            # client authentication with HTTP Basic, as RFC 6749 prefers
            st, tok2, _ = self.token(tgt, {"grant_type": "client_credentials"},
                                     {"Authorization": basic("app", "shh")})
            self.assertEqual(st, 200, tok2)
            self.assertNotEqual(tok2["access_token"], access)
            # refusals
            st, err, h = self.token(tgt, {"grant_type": "client_credentials",
                                          "client_id": "app", "client_secret": "nope"})
            self.assertEqual((st, err["error"]), (401, "invalid_client"))
            st, err, _ = self.token(tgt, {"grant_type": "password", "client_id": "app",
                                          "client_secret": "shh"})
            self.assertEqual((st, err["error"]), (400, "unsupported_grant_type"))
            st, err, _ = http("POST", tgt.base + "/oauth/token",
                              body={"grant_type": "client_credentials"})
            self.assertEqual((st, err["error"]), (400, "invalid_request"))
            # the client secret is not a bearer token
            st, _, _ = http("GET", url, headers={"Authorization": "Bearer shh"})
            self.assertEqual(st, 401)
            self.assertNotIn("shh", tgt.output())

    def test_tokens_expire(self):
        with Target(token=None, extra=["--client-id", "app", "--client-secret", "shh",
                                       "--token-ttl", "1"]) as tgt:
            st, tok, _ = self.token(tgt, {"grant_type": "client_credentials",
                                          "client_id": "app", "client_secret": "shh"})
            self.assertEqual((st, tok["expires_in"]), (200, 1))

            def expired():
                s, _, hh = http("GET", tgt.scim_base + "/Users",
                                headers={"Authorization": "Bearer " + tok["access_token"]})
                return s == 401 and 'error="invalid_token"' in hh.get("www-authenticate", "")
            wait_until(expired, timeout=15, what="the issued token to expire")
            # a new token is issued in the expired one's place
            st, tok2, _ = self.token(tgt, {"grant_type": "client_credentials",
                                           "client_id": "app", "client_secret": "shh"})
            self.assertEqual(st, 200, tok2)
            st, body, _ = http("GET", tgt.scim_base + "/Users",
                               headers={"Authorization": "Bearer " + tok2["access_token"]})
            self.assertEqual(st, 200, body)

    def test_token_endpoint_form_and_header_edges(self):
        with Target(token=None, extra=["--client-id", "app id", "--client-secret",
                                       "s&cret=1!"]) as tgt:
            # percent-encoded and '+'-encoded form values are decoded
            raw = "grant_type=client_credentials&client_id=app+id&client_secret=s%26cret%3D1%21"
            st, tok, _ = http("POST", tgt.base + "/oauth/token", raw=raw, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(st, 200, tok)
            # a truncated escape is taken literally (and so does not match)
            raw = "grant_type=client_credentials&client_id=app+id&client_secret=s%2"
            st, err, _ = http("POST", tgt.base + "/oauth/token", raw=raw, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual((st, err["error"]), (401, "invalid_client"))
            # the token endpoint takes POST only
            st, err, h = http("GET", tgt.base + "/oauth/token")
            self.assertEqual((st, err["error"]), (405, "invalid_request"))
            self.assertEqual(h["allow"], "POST")
            # an Authorization header past 4096 bytes is refused as a bad request
            st, body, h = http("GET", tgt.scim_base + "/Users",
                               headers={"Authorization": "Bearer " + "x" * 5000})
            self.assertEqual(st, 401, body)
            self.assertIn("invalid_request", h["www-authenticate"])
            self.assertNotIn("s&cret=1!", tgt.output())

    def test_token_endpoint_without_client(self):
        with Target(token="t") as tgt:
            st, err, _ = self.token(tgt, {"grant_type": "client_credentials",
                                          "client_id": "a", "client_secret": "b"})
            self.assertEqual(st, 400, err)


if __name__ == "__main__":
    unittest.main()
