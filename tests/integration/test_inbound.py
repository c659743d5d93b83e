"""scimitar serve as a SCIM service provider (/scim/v2, inbound tokens): Entra ID's and
Okta's documented request sequences (idp_sequences.py) replayed end to end; what the
directory holds afterwards; the rule for attributes the directory has no field for;
token scope and population; and an inbound create reaching an outbound target through a
rule."""
import unittest
import urllib.parse
import uuid

import idp_sequences
from harness import Serve, Target, http, wait_until
from seedflow import Flow, WAIT, pop_filter

USER = idp_sequences.USER
PATCHOP = idp_sequences.PATCHOP


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class InboundTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Serve()
        cls.srv.start()
        st, cls.pop, _ = cls.srv.api("POST", "/api/v1/populations", {"name": "Entra"})
        assert st == 201, cls.pop
        st, cls.other, _ = cls.srv.api("POST", "/api/v1/populations", {"name": "Other"})
        assert st == 201, cls.other
        cls.tok = cls.token("entra-prod", cls.pop["name"], "write")

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    @classmethod
    def token(cls, name, population, scope):
        st, body, _ = cls.srv.api("POST", "/api/v1/inbound-tokens",
                                  {"name": name, "population": population, "scope": scope})
        assert st == 201, body
        return body["token"]

    def scim(self, method, path, body=None, token=None, headers=None):
        h = {"Accept": "application/scim+json",
             "Authorization": "Bearer " + (token or self.tok)}
        if body is not None:
            h["Content-Type"] = "application/scim+json"
        h.update(headers or {})
        return http(method, self.srv.base + "/scim/v2" + path, body=body, headers=h)

    def test_entra_sequence(self):
        n = idp_sequences.replay(self, self.scim, idp_sequences.entra())
        self.assertEqual(n, 26)

    def test_okta_sequence(self):
        n = idp_sequences.replay(self, self.scim, idp_sequences.okta())
        self.assertEqual(n, 19)

    def test_directory_holds_the_user_and_keeps_the_rest(self):
        """Mapped attributes land in the directory's fields (the REST API sees them);
        the others are kept and served back; a change in the directory shows in SCIM."""
        name = unique("ada") + "@corp.test"
        st, u, h = self.scim("POST", "/Users", {
            "schemas": [USER, idp_sequences.ENT], "userName": name,
            "name": {"givenName": "Ada", "familyName": "Lovelace", "middleName": "B"},
            "emails": [{"value": "home@x.test", "type": "home"},
                       {"value": "ada@corp.test", "type": "work", "primary": True}],
            "addresses": [{"type": "work", "locality": "London", "country": "gb"}],
            "displayName": "Ada L", "locale": "en-GB", "password": "secret-pw",
            idp_sequences.ENT: {"department": "Maths"}})
        self.assertEqual(st, 201, u)
        self.assertTrue(h["etag"].startswith('W/"'))
        self.assertTrue(h["location"].endswith("/scim/v2/Users/" + u["id"]))
        self.assertTrue(h["location"].startswith("http://127.0.0.1:"), h["location"])
        self.assertEqual(u["meta"]["location"], h["location"])
        # behind a TLS-terminating proxy that says so, the location is https
        st, v, h2 = self.scim("GET", "/Users/" + u["id"], headers={
            "X-Forwarded-Proto": "https", "Host": "idm.example.com"})
        self.assertEqual(st, 200, v)
        self.assertEqual(v["meta"]["location"], "https://idm.example.com/scim/v2/Users/" + u["id"])
        st, d, _ = self.srv.api("GET", "/api/v1/users/" + u["id"])
        self.assertEqual(st, 200, d)
        self.assertEqual((d["username"], d["name"]["given"], d["name"]["family"], d["email"],
                          d["address"]["locality"], d["address"]["countryCode"],
                          d["population"]["id"], d["enabled"]),
                         (name, "Ada", "Lovelace", "ada@corp.test", "London", "GB",
                          self.pop["id"], True))
        self.assertEqual(u["displayName"], "Ada L")
        self.assertEqual(u["locale"], "en-GB")
        self.assertEqual(u["name"]["middleName"], "B")
        self.assertEqual(u[idp_sequences.ENT]["department"], "Maths")
        self.assertEqual([e["value"] for e in u["emails"]], ["home@x.test", "ada@corp.test"])
        self.assertEqual(u["addresses"][0]["country"], "GB")
        self.assertNotIn("password", u)
        # a change in the directory shows in SCIM, with a new ETag
        st, _, _ = self.srv.api("PATCH", "/api/v1/users/" + u["id"], {"title": "Countess"})
        self.assertEqual(st, 200)
        st, got, h2 = self.scim("GET", "/Users/" + u["id"])
        self.assertEqual(got["title"], "Countess")
        self.assertNotEqual(h2["etag"], h["etag"])
        st, _, _ = self.scim("GET", "/Users/" + u["id"], headers={"If-None-Match": h2["etag"]})
        self.assertEqual(st, 304)
        st, got, _ = self.scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP],
            "Operations": [{"op": "replace", "path": "title", "value": "x"}]},
            headers={"If-Match": h["etag"]})
        self.assertEqual(st, 412, got)
        # the directory's checks, named by SCIM path; attributes no schema has are refused
        st, got, _ = self.scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP],
            "Operations": [{"op": "replace", "path": 'emails[type eq "work"].value',
                            "value": "not an address"}]})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn('emails[type eq "work"].value', got["detail"])
        st, got, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("x"),
                                                  "favouriteColour": "red"})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("favouriteColour", got["detail"])
        # the same userName in any case is taken
        st, got, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": name.upper()})
        self.assertEqual((st, got.get("scimType")), (409, "uniqueness"), got)

    def test_each_user_says_where_it_came_from(self):
        """source: the inbound token's name, the import, or the REST API; in a user's
        read, in lists and in the answers of writes. A user an import made keeps the
        import as its source when a token changes it later."""
        via_api, via_import, via_scim = unique("rest"), unique("imp"), unique("scim")
        st, made, _ = self.srv.api("POST", "/api/v1/users",
                                   {"username": via_api, "population": {"name": "Entra"}})
        self.assertEqual(st, 201, made)
        self.assertEqual(made["source"], {"kind": "api"})
        st, body, _ = self.srv.api("POST", "/api/v1/users/import",
                                   [{"username": via_import, "population": {"name": "Entra"}},
                                    {"username": "bad name", "population": {"name": "Entra"}}])
        self.assertEqual((st, body["created"], len(body["rejected"])), (200, 1, 1), body)
        st, u, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": via_scim})
        self.assertEqual(st, 201, u)

        def source_of(name):
            st, page, _ = self.srv.api("GET", "/api/v1/users?q=" + name)
            self.assertEqual(st, 200, page)
            hits = [x for x in page["items"] if x["username"] == name]
            self.assertEqual(len(hits), 1, page)
            st, one, _ = self.srv.api("GET", "/api/v1/users/" + hits[0]["id"])
            self.assertEqual(one["source"], hits[0]["source"])
            return hits[0]["source"], hits[0]["id"]
        self.assertEqual(source_of(via_api)[0], {"kind": "api"})
        self.assertEqual(source_of(via_scim)[0], {"kind": "scim", "token": "entra-prod"})
        src, imp_id = source_of(via_import)
        self.assertEqual(src, {"kind": "import"})
        st, _, _ = self.scim("PATCH", "/Users/" + imp_id, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]})
        self.assertEqual(st, 200)
        self.assertEqual(source_of(via_import)[0], {"kind": "import"})

    def test_tokens_scope_and_population(self):
        """A read token cannot write; a token sees only its population's users; a
        revoked token, an unknown one and the admin token are refused."""
        st, u, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("p")})
        self.assertEqual(st, 201, u)
        reader = self.token(unique("reader"), self.pop["id"], "read")
        st, got, _ = self.scim("GET", "/Users/" + u["id"], token=reader)
        self.assertEqual(st, 200, got)
        st, got, _ = self.scim("POST", "/Users/.search", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "%s"' % u["userName"]}, token=reader)
        self.assertEqual((st, got.get("totalResults")), (200, 1), got)
        st, got, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("r")},
                               token=reader)
        self.assertEqual(st, 403, got)
        st, got, _ = self.scim("DELETE", "/Users/" + u["id"], token=reader)
        self.assertEqual(st, 403, got)
        other = self.token(unique("other"), self.other["name"], "write")
        st, got, _ = self.scim("GET", "/Users/" + u["id"], token=other)
        self.assertEqual(st, 404, got)
        st, got, _ = self.scim("GET", "/Users?filter=" + "id%20eq%20%22" + u["id"] + "%22",
                               token=other)
        self.assertEqual(got["totalResults"], 0, got)
        st, got, _ = self.scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "active", "value": False}]}, token=other)
        self.assertEqual(st, 404, got)
        st, got, _ = self.scim("POST", "/Groups", {
            "schemas": [idp_sequences.GROUP], "displayName": unique("g"),
            "members": [{"value": u["id"]}]}, token=other)
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        # a group shows a token only the users of its population, and a token's writes
        # leave the others' memberships alone
        st, stranger, _ = self.srv.api("POST", "/api/v1/users", {
            "username": unique("stranger"), "population": {"id": self.other["id"]}})
        self.assertEqual(st, 201, stranger)
        st, g, _ = self.scim("POST", "/Groups", {"schemas": [idp_sequences.GROUP],
                                                 "displayName": unique("mixed"),
                                                 "members": [{"value": u["id"]}]})
        self.assertEqual(st, 201, g)
        st, _, _ = self.srv.api("POST", "/api/v1/groups/%s/members" % g["id"],
                                {"userId": stranger["id"]})
        self.assertEqual(st, 201)
        st, got, _ = self.scim("GET", "/Groups/" + g["id"])
        self.assertEqual([m["value"] for m in got["members"]], [u["id"]])
        st, got, _ = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "members", "value": []}]})
        self.assertEqual(st, 200, got)
        st, got, _ = self.srv.api("GET", "/api/v1/groups/%s/members" % g["id"])
        self.assertEqual([m["id"] for m in got["items"]], [stranger["id"]])
        st, lst, _ = self.srv.api("GET", "/api/v1/inbound-tokens")
        self.assertEqual(st, 200)
        mine = [t for t in lst["items"] if t["population"]["id"] == self.other["id"]]
        self.assertTrue(mine and all("token" not in t and "hash" not in t for t in lst["items"]))
        st, _, _ = self.srv.api("DELETE", "/api/v1/inbound-tokens/" + mine[0]["id"])
        self.assertEqual(st, 204)
        st, got, h = self.scim("GET", "/Users", token=other)
        self.assertEqual(st, 401, got)
        self.assertIn("Bearer", h.get("www-authenticate", ""))
        st, got, _ = self.scim("GET", "/Users", token=self.srv.token)
        self.assertEqual(st, 401, got)
        st, got, _ = self.scim("GET", "/Users", token="scmi_nope")
        self.assertEqual(st, 401, got)
        # an inbound token does not open the admin API
        st, got, _ = self.srv.api("GET", "/api/v1/users", token=self.tok)
        self.assertEqual(st, 401, got)
        # bad token bodies name the field
        for body, field in [({"name": "x", "population": "nope", "scope": "write"}, "population"),
                            ({"name": "x", "population": self.pop["id"], "scope": "all"},
                             "scope"),
                            ({"name": "entra-prod", "population": self.pop["id"],
                              "scope": "read"}, "name")]:
            st, got, _ = self.srv.api("POST", "/api/v1/inbound-tokens", body)
            self.assertIn(st, (400, 409), got)
            self.assertEqual(got["error"]["field"], field, got)

    def test_cli(self):
        """scimitar inbound-tokens create (printed once), list, revoke."""
        name = unique("cli")
        r = self.srv.cli("inbound-tokens", "create", "--name", name, "--population",
                         self.pop["name"], "--scope", "read", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        import json
        made = json.loads(r.stdout)
        self.assertTrue(made["token"].startswith("scmi_"))
        st, _, _ = self.scim("GET", "/Users", token=made["token"])
        self.assertEqual(st, 200)
        r = self.srv.cli("inbound-tokens", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(name, r.stdout)
        self.assertNotIn(made["token"], r.stdout)
        r = self.srv.cli("inbound-tokens", "revoke", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, _, _ = self.scim("GET", "/Users", token=made["token"])
        self.assertEqual(st, 401)
        r = self.srv.cli("inbound-tokens", "create", "--name", unique("x"), "--population",
                         "no-such-population", "--scope", "read")
        self.assertEqual(r.returncode, 1)
        self.assertIn("population", r.stderr)

    def test_discovery_and_bulk(self):
        st, got, _ = self.scim("GET", "/ServiceProviderConfig")
        self.assertEqual(st, 200, got)
        self.assertTrue(got["patch"]["supported"] and got["bulk"]["supported"])
        self.assertEqual(got["authenticationSchemes"][0]["type"], "oauthbearertoken")
        st, got, _ = self.scim("GET", "/ResourceTypes")
        self.assertEqual(got["totalResults"], 2)
        a, g = unique("bulk-a"), unique("bulk-g")
        st, got, _ = self.scim("POST", "/Bulk", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "bulkId": "g", "path": "/Groups",
                 "data": {"schemas": [idp_sequences.GROUP], "displayName": g,
                          "members": [{"value": "bulkId:a"}]}},
                {"method": "POST", "bulkId": "a", "path": "/Users",
                 "data": {"schemas": [USER], "userName": a}}]})
        self.assertEqual(st, 200, got)
        self.assertEqual(sorted(o["status"] for o in got["Operations"]), ["201", "201"], got)
        st, got, _ = self.scim("GET", "/Groups?filter=displayName%20eq%20%22" + g + "%22")
        self.assertEqual([m["display"] for m in got["Resources"][0]["members"]], [a])

    def test_a_group_with_members_of_another_population(self):
        """A token cannot rename or delete a group that holds users it cannot see (they
        would lose the membership); a group only its own population uses it can."""
        pop_b = unique("PopB")
        st, _, _ = self.srv.api("POST", "/api/v1/populations", {"name": pop_b})
        self.assertEqual(st, 201)
        wb = self.token(unique("wb"), pop_b, "write")
        st, bob, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("bob")},
                               token=wb)
        self.assertEqual(st, 201, bob)
        st, g, _ = self.scim("POST", "/Groups", {"schemas": [idp_sequences.GROUP],
                                                 "displayName": unique("Shared"),
                                                 "members": [{"value": bob["id"]}]}, token=wb)
        self.assertEqual(st, 201, g)
        path = "/Groups/" + g["id"]
        for method, body in [
                ("PATCH", {"schemas": [PATCHOP], "Operations": [
                    {"op": "replace", "path": "displayName", "value": unique("taken")}]}),
                ("PATCH", {"schemas": [PATCHOP], "Operations": [
                    {"op": "replace", "value": {"displayName": unique("taken")}}]}),
                ("PUT", {"schemas": [idp_sequences.GROUP], "displayName": unique("taken")}),
                ("DELETE", None)]:
            st, got, _ = self.scim(method, path, body)
            self.assertEqual(st, 403, (method, got))
            self.assertIn("cannot see", got["detail"])
        st, got, _ = self.srv.api("GET", "/api/v1/groups/%s/members" % g["id"])
        self.assertEqual([m["id"] for m in got["items"]], [bob["id"]])
        st, got, _ = self.srv.api("GET", "/api/v1/groups/" + g["id"])
        self.assertEqual(got["name"], g["displayName"])
        # the token's own writes that leave bob alone still work
        st, got, _ = self.scim("PATCH", path, {"schemas": [PATCHOP], "Operations": [
            {"op": "add", "path": "externalId", "value": "x-1"}]})
        self.assertEqual(st, 200, got)
        # the owning population's token may rename and delete it
        st, got, _ = self.scim("PATCH", path, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "displayName", "value": unique("Renamed")}]}, token=wb)
        self.assertEqual(st, 200, got)
        # once bob is no member, the other token may too
        st, got, _ = self.scim("PATCH", path, {"schemas": [PATCHOP], "Operations": [
            {"op": "remove", "path": 'members[value eq "%s"]' % bob["id"]}]}, token=wb)
        self.assertEqual(st, 200, got)
        st, got, _ = self.scim("PATCH", path, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "displayName", "value": unique("Mine")}]})
        self.assertEqual(st, 200, got)
        st, got, _ = self.scim("DELETE", path)
        self.assertEqual(st, 204, got)

    def test_kept_attributes_are_bounded(self):
        """A kept string over 8 KiB, or kept attributes over 64 KiB of JSON, are refused
        with 400 invalidValue naming the attribute; on create and on change."""
        big = "x" * (8 * 1024 + 1)
        st, got, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("big"),
                                                  "displayName": big})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("displayName", got["detail"])
        roles = [{"value": "r%d-" % i + "y" * 4000} for i in range(20)]
        st, got, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("big"),
                                                  "roles": roles})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("roles", got["detail"])
        st, u, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("small"),
                                                "displayName": "x" * 8192})
        self.assertEqual(st, 201, u)
        st, got, _ = self.scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "locale", "value": big}]})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("locale", got["detail"])
        st, got, _ = self.scim("POST", "/Groups", {"schemas": [idp_sequences.GROUP],
                                                   "displayName": unique("big"),
                                                   "externalId": big})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("externalId", got["detail"])
        st, got, _ = self.scim("GET", "/Users/" + u["id"])
        self.assertNotIn("locale", got)

    def test_bulk_over_max_payload_size(self):
        """A /Bulk request over the advertised maxPayloadSize is 413 (RFC 7644 §3.7.4)."""
        st, cfg, _ = self.scim("GET", "/ServiceProviderConfig")
        limit = cfg["bulk"]["maxPayloadSize"]
        ops = [{"method": "POST", "bulkId": "b%d" % i, "path": "/Users",
                "data": {"schemas": [USER], "userName": unique("bulk%d" % i),
                         "displayName": "n" * 4000}} for i in range(limit // 4000 + 10)]
        st, got, _ = self.scim("POST", "/Bulk", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": ops})
        self.assertEqual(st, 413, str(got)[:300])
        self.assertIn("maxPayloadSize", got["detail"])
        st, got, _ = self.scim("GET", "/Users?filter=" + "userName%20sw%20%22bulk0-%22")
        self.assertEqual(got["totalResults"], 0, got)

    def test_a_population_with_inbound_tokens_is_not_deleted(self):
        """Deleting a population that inbound tokens are bound to is refused with 409
        naming them; once they are revoked it goes."""
        name = unique("Doomed")
        st, pop, _ = self.srv.api("POST", "/api/v1/populations", {"name": name})
        self.assertEqual(st, 201, pop)
        tname = unique("doomed-token")
        tok = self.token(tname, name, "write")
        st, got, _ = self.srv.api("DELETE", "/api/v1/populations/" + pop["id"])
        self.assertEqual(st, 409, got)
        self.assertIn(tname, got["error"]["message"])
        st, got, _ = self.scim("GET", "/Users", token=tok)
        self.assertEqual((st, got["totalResults"]), (200, 0), got)
        st, lst, _ = self.srv.api("GET", "/api/v1/inbound-tokens")
        tid = [t["id"] for t in lst["items"] if t["name"] == tname][0]
        st, _, _ = self.srv.api("DELETE", "/api/v1/inbound-tokens/" + tid)
        self.assertEqual(st, 204)
        st, got, _ = self.srv.api("DELETE", "/api/v1/populations/" + pop["id"])
        self.assertEqual(st, 204, got)

    def test_group_members_changes(self):
        """A change of members moves meta.lastModified (as it does the ETag), and a bad
        member is named by its index in the request."""
        st, u1, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("m1")})
        st, u2, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("m2")})
        st, g, h = self.scim("POST", "/Groups", {"schemas": [idp_sequences.GROUP],
                                                 "displayName": unique("g"),
                                                 "members": [{"value": u1["id"]}]})
        self.assertEqual(st, 201, g)
        wait_until(lambda: self.srv_now() > g["meta"]["lastModified"], timeout=WAIT,
                   what="the clock past the group's creation")
        st, got, h2 = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCHOP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": u2["id"]}]}]})
        self.assertEqual(st, 200, got)
        self.assertNotEqual(h2["etag"], h["etag"])
        self.assertGreater(got["meta"]["lastModified"], g["meta"]["lastModified"])
        st, got, _ = self.scim("PATCH", "/Groups/" + g["id"], {"schemas": [PATCHOP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "no-such"}]}]})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("members[0]", got["detail"])
        st, got, _ = self.scim("PUT", "/Groups/" + g["id"], {
            "schemas": [idp_sequences.GROUP], "displayName": g["displayName"],
            "members": [{"value": u1["id"]}, {"value": "no-such"}]})
        self.assertEqual((st, got.get("scimType")), (400, "invalidValue"), got)
        self.assertIn("members[1]", got["detail"])

    def test_a_group_read_without_members(self):
        """A group read or listed with its members left out (excludedAttributes=members,
        attributes without members) answers without them, with the version of the whole
        group: the same ETag and meta.version, If-None-Match and If-Match work across both;
        a filter on the members still sees them."""
        ids = []
        for _ in range(2):
            st, u, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("gm")})
            self.assertEqual(st, 201, u)
            ids.append(u["id"])
        name = unique("Lean")
        st, g, _ = self.scim("POST", "/Groups", {"schemas": [idp_sequences.GROUP],
                                                 "displayName": name,
                                                 "members": [{"value": i} for i in ids]})
        self.assertEqual(st, 201, g)
        path = "/Groups/" + g["id"]
        st, full, h = self.scim("GET", path)
        self.assertEqual((st, len(full["members"])), (200, 2), full)
        etag = h["etag"]
        self.assertEqual(full["meta"]["version"], etag)
        st, lean, h = self.scim("GET", path + "?excludedAttributes=members")
        self.assertEqual(st, 200, lean)
        self.assertNotIn("members", lean)
        self.assertEqual((lean["displayName"], lean["meta"]["version"], h["etag"]),
                         (name, etag, etag))
        st, lean, h = self.scim("GET", path + "?attributes=displayName")
        self.assertEqual((st, sorted(lean), h["etag"]),
                         (200, ["displayName", "id", "schemas"], etag), lean)
        st, _, _ = self.scim("GET", path + "?excludedAttributes=members",
                             headers={"If-None-Match": etag})
        self.assertEqual(st, 304)
        q = urllib.parse.quote('displayName eq "%s"' % name)
        st, got, _ = self.scim("GET", "/Groups?excludedAttributes=members&filter=" + q)
        self.assertEqual((st, got["totalResults"]), (200, 1), got)
        self.assertNotIn("members", got["Resources"][0])
        self.assertEqual(got["Resources"][0]["meta"]["version"], etag)
        q = urllib.parse.quote('members[value eq "%s"]' % ids[1])
        st, got, _ = self.scim("GET", "/Groups?excludedAttributes=members&filter=" + q)
        self.assertEqual([r["id"] for r in got["Resources"]], [g["id"]], got)
        self.assertNotIn("members", got["Resources"][0])
        st, got, _ = self.scim("POST", "/Groups/.search", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'displayName eq "%s"' % name, "attributes": ["displayName"]})
        self.assertEqual((st, got["totalResults"]), (200, 1), got)
        self.assertNotIn("members", got["Resources"][0])
        # the version read without members is the one a write checks
        st, got, h = self.scim("PATCH", path, {"schemas": [PATCHOP], "Operations": [
            {"op": "remove", "path": 'members[value eq "%s"]' % ids[0]}]},
            headers={"If-Match": etag})
        self.assertEqual((st, [m["value"] for m in got["members"]]), (200, [ids[1]]), got)
        st, lean, h2 = self.scim("GET", path + "?excludedAttributes=members")
        self.assertEqual(h2["etag"], h["etag"])
        self.assertNotEqual(h2["etag"], etag)

    def srv_now(self):
        """The server's clock, as the ISO 8601 text of a new user's meta.created."""
        st, u, _ = self.scim("POST", "/Users", {"schemas": [USER], "userName": unique("clk")})
        self.assertEqual(st, 201, u)
        return u["meta"]["created"]


class InboundToOutboundTest(unittest.TestCase):
    def test_an_inbound_change_reaches_an_outbound_target_through_a_rule(self):
        """Users an IdP creates, changes and deactivates over /scim/v2 reach a
        `scimitar target` through a rule on the token's population."""
        with Target(token="out-token") as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.population("Entra")
            f.setup(population="Entra")
            st, tok, _ = srv.api("POST", "/api/v1/inbound-tokens",
                                 {"name": "entra", "population": "Entra", "scope": "write"})
            self.assertEqual(st, 201, tok)

            def scim(method, path, body=None):
                h = {"Authorization": "Bearer " + tok["token"],
                     "Content-Type": "application/scim+json"}
                return http(method, srv.base + "/scim/v2" + path, body=body, headers=h)
            st, u, _ = scim("POST", "/Users", {
                "schemas": [USER], "userName": "grace@corp.test", "externalId": "e-1",
                "name": {"givenName": "Grace", "familyName": "Hopper"},
                "emails": [{"value": "grace@corp.test", "type": "work", "primary": True}],
                "title": "Rear Admiral", "meta": {"resourceType": "User"}})
            self.assertEqual(st, 201, u)

            def account():
                got = [a for a in tgt.users() if a["userName"] == "grace@corp.test"]
                return got[0] if got else None
            wait_until(lambda: account() is not None, timeout=WAIT, what="grace on the target")
            acct = account()
            self.assertEqual((acct["name"]["givenName"], acct["title"], acct["externalId"]),
                             ("Grace", "Rear Admiral", "e-1"))
            self.assertEqual([e["value"] for e in acct["emails"]], ["grace@corp.test"])
            st, got, _ = scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP], "Operations": [
                {"op": "Replace", "path": "title", "value": "Commodore"}]})
            self.assertEqual(st, 200, got)
            wait_until(lambda: account()["title"] == "Commodore", timeout=WAIT,
                       what="the new title on the target")
            st, got, _ = scim("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP], "Operations": [
                {"op": "Replace", "path": "active", "value": "False"}]})
            self.assertEqual(st, 200, got)
            wait_until(lambda: account()["active"] is False, timeout=WAIT,
                       what="the account disabled on the target")


class LoopSafetyTest(unittest.TestCase):
    def idp(self, srv, tgt, source):
        """Populations Entra and Other, the IdP's own connection, and an inbound token
        "entra" on Entra (naming that connection as its sourceConnection when source):
        (flow, connection id, token, SCIM headers)."""
        f = Flow(srv, tgt)
        f.population("Entra")
        f.population("Other")
        idp = f.connection(name="Entra ID (as a target)")
        body = {"name": "entra", "population": "Entra", "scope": "write"}
        if source:
            body["sourceConnection"] = idp
        st, tok, _ = srv.api("POST", "/api/v1/inbound-tokens", body)
        self.assertEqual(st, 201, tok)
        return f, idp, tok, {"Authorization": "Bearer " + tok["token"],
                             "Content-Type": "application/scim+json"}

    def test_no_rule_sends_a_sources_users_back_to_its_own_connection(self):
        """A connection marked as an inbound token's source's own cannot be the target of
        a rule that takes in the token's population, whichever is set up second."""
        with Target(token="idp-token") as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.population("Entra")
            f.population("Other")
            idp = f.connection(name="Entra ID (as a target)")
            other = f.connection(name="Code42")
            st, tok, _ = srv.api("POST", "/api/v1/inbound-tokens", {
                "name": "entra", "population": "Entra", "scope": "write",
                "sourceConnection": idp})
            self.assertEqual(st, 201, tok)
            self.assertEqual(tok["sourceConnection"], idp)
            # a rule towards the source's own connection on the token's population: refused
            f.conn = idp
            rule = f.ok("POST", "/api/v1/rules", {"name": "back", "target": idp})["id"]
            st, got, _ = srv.api("PUT", "/api/v1/rules/%s/filter" % rule, pop_filter("Entra"))
            self.assertEqual((st, got["error"]["field"]), (409, "filter"), got)
            self.assertIn("entra", got["error"]["message"])
            st, got, _ = srv.api("PUT", "/api/v1/rules/%s/filter" % rule,
                                 pop_filter("Other", "Entra"))
            self.assertEqual(st, 409, got)
            # another population towards it, and the token's population elsewhere: fine
            st, got, _ = srv.api("PUT", "/api/v1/rules/%s/filter" % rule, pop_filter("Other"))
            self.assertEqual(st, 200, got)
            fwd = f.ok("POST", "/api/v1/rules", {"name": "fan out", "target": other})["id"]
            st, got, _ = srv.api("PUT", "/api/v1/rules/%s/filter" % fwd, pop_filter("Entra"))
            self.assertEqual(st, 200, got)
            # moving that rule to the source's own connection: refused
            st, got, _ = srv.api("PATCH", "/api/v1/rules/" + fwd, {"target": idp})
            self.assertEqual((st, got["error"]["field"]), (409, "target"), got)
            # marking a connection that a rule on the population already targets: refused
            st, got, _ = srv.api("PATCH", "/api/v1/inbound-tokens/" + tok["id"],
                                 {"sourceConnection": other})
            self.assertEqual((st, got["error"]["field"]), (409, "sourceConnection"), got)
            st, got, _ = srv.api("PATCH", "/api/v1/inbound-tokens/" + tok["id"],
                                 {"sourceConnection": None})
            self.assertEqual((st, got["sourceConnection"]), (200, None), got)
            st, got, _ = srv.api("PATCH", "/api/v1/rules/" + fwd, {"target": idp})
            self.assertEqual(st, 200, got)
            st, got, _ = srv.api("PATCH", "/api/v1/inbound-tokens/" + tok["id"],
                                 {"sourceConnection": "no-such-connection"})
            self.assertEqual((st, got["error"]["field"]), (400, "sourceConnection"), got)

    def test_a_user_moved_into_a_rule_towards_its_source_is_not_sent_back(self):
        """A user an inbound token created and an administrator later moved into a
        population that a rule towards the token's sourceConnection takes in is not
        written to that connection (not even looked up there): the rule logs a SKIP
        saying why, counts the user as unsynced, and a full resync changes nothing. The
        rule's other users reach the target."""
        with Target(token="idp-token") as tgt, Serve() as srv:
            f, idp, tok, h = self.idp(srv, tgt, source=True)
            f.new_rule(pop_filter("Other"))
            f.wait_events_handled()
            f.enable()
            st, grace, _ = http("POST", srv.base + "/scim/v2/Users", headers=h, body={
                "schemas": [USER], "userName": "grace@corp.test",
                "name": {"givenName": "Grace", "familyName": "Hopper"}})
            self.assertEqual(st, 201, grace)
            f.patch_user(grace["id"], {"population": {"name": "Other"}})
            st, moved, _ = srv.api("GET", "/api/v1/users/" + grace["id"])
            self.assertEqual((moved["population"]["name"], moved["source"]),
                             ("Other", {"kind": "scim", "token": "entra"}), moved)
            ada = f.user("ada", "Other")

            def skipped():
                return [l for l in f.logs(user=grace["id"]) if l["action"] == "SKIP"]
            wait_until(lambda: skipped(), timeout=WAIT, what="the SKIP entry of grace")
            entry = skipped()[0]
            self.assertEqual(entry["status"], "UNSYNCED", entry)
            self.assertIn("sourceConnection", entry["error"])
            self.assertIn("'entra'", entry["error"])
            self.assertEqual([l["action"] for l in f.logs(user=grace["id"])], ["SKIP"])
            # ada's state is recorded after the target has answered: wait for it
            box = {}

            def ada_synced():
                box["states"] = {u["userId"]: u for u in f.rule_users()}
                return box["states"].get(ada, {}).get("state") == "SYNCED"
            wait_until(ada_synced, timeout=WAIT, what="ada synced")
            self.assertIsNotNone(f.target_user("ada"))
            self.assertIsNone(f.target_user("grace@corp.test"))
            states = box["states"]
            self.assertEqual(states[grace["id"]]["state"], "UNSYNCED", states)
            self.assertIn("sourceConnection", states[grace["id"]]["lastError"])
            self.assertEqual(f.status()["users"]["unsynced"], 1, f.status())
            # a dry run says so too: grace under unsynced with the reason, never a create
            st, plan, _ = srv.api("POST", "/api/v1/rules/%s/resync?dryRun=true" % f.rule)
            self.assertEqual(st, 200, plan)
            self.assertNotIn(grace["id"], [c["userId"] for c in plan["creates"]], plan)
            self.assertNotIn(grace["id"], [c["userId"] for c in plan["updates"]], plan)
            held = [u for u in plan["unsynced"] if u["userId"] == grace["id"]]
            self.assertEqual(len(held), 1, plan)
            self.assertIn("sourceConnection", held[0]["reason"])
            # a change (the token no longer sees the user: the REST API's) and a full
            # resync do not send it either
            f.patch_user(grace["id"], {"title": "Commodore"})
            f.wait_events_handled()
            f.resync_and_wait()
            self.assertIsNone(f.target_user("grace@corp.test"))
            self.assertEqual([l["action"] for l in f.logs(user=grace["id"])], ["SKIP"])
            self.assertEqual(f.stats().get("POST", 0), 1, f.stats())
            # the token revoked: the user still came from that connection (its origin is
            # kept with the user, not read through the token)
            st, _, _ = srv.api("DELETE", "/api/v1/inbound-tokens/" + tok["id"])
            self.assertEqual(st, 204)
            f.patch_user(grace["id"], {"title": "Rear Admiral"})
            f.wait_events_handled()
            f.resync_and_wait()
            self.assertIsNone(f.target_user("grace@corp.test"))
            self.assertEqual(f.stats().get("POST", 0), 1, f.stats())
            states = {u["userId"]: u for u in f.rule_users()}
            self.assertEqual(states[grace["id"]]["state"], "UNSYNCED", states)
            self.assertIn("'entra'", states[grace["id"]]["lastError"])

    def test_a_source_connection_set_later_covers_the_tokens_users(self):
        """A token given its sourceConnection after it created users: those users carry it
        from then on, and a rule towards that connection does not send them back."""
        with Target(token="idp-token") as tgt, Serve() as srv:
            f, idp, tok, h = self.idp(srv, tgt, source=False)
            st, grace, _ = http("POST", srv.base + "/scim/v2/Users", headers=h, body={
                "schemas": [USER], "userName": "grace@corp.test"})
            self.assertEqual(st, 201, grace)
            st, got, _ = srv.api("PATCH", "/api/v1/inbound-tokens/" + tok["id"],
                                 {"sourceConnection": idp})
            self.assertEqual(st, 200, got)
            f.patch_user(grace["id"], {"population": {"name": "Other"}})
            f.new_rule(pop_filter("Other"))
            f.wait_events_handled()
            f.enable()
            ada = f.user("ada", "Other")

            def states():
                return {u["userId"]: u["state"] for u in f.rule_users()}
            wait_until(lambda: states().get(ada) == "SYNCED" and
                       states().get(grace["id"]) == "UNSYNCED",
                       timeout=WAIT, what="ada synced and grace refused")
            self.assertIsNone(f.target_user("grace@corp.test"))
            self.assertIsNotNone(f.target_user("ada"))

class ImportSourceTest(unittest.TestCase):
    def test_an_import_stores_its_users_with_their_source_or_not_at_all(self):
        """The import's users and the record of the import as their source are written in
        one transaction: when the record cannot be written (a failure injected by a
        trigger on inbound_users), no user is stored (they would show as made through the
        REST API); once it can, the same import stores them with their source."""
        with Serve() as srv:
            st, _, _ = srv.api("POST", "/api/v1/populations", {"name": "Staff"})
            self.assertEqual(st, 201)
            if srv.on_pg:
                srv.sql("CREATE FUNCTION fail_source() RETURNS trigger AS $$ BEGIN "
                        "RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql")
                srv.sql("CREATE TRIGGER fail_source BEFORE INSERT ON inbound_users "
                        "FOR EACH ROW EXECUTE FUNCTION fail_source()")
            else:
                srv.sql("CREATE TRIGGER fail_source BEFORE INSERT ON inbound_users "
                        "BEGIN SELECT RAISE(ABORT, 'injected'); END")
            rows = [{"username": n, "population": {"name": "Staff"}} for n in ("imp1", "imp2")]
            st, body, _ = srv.api("POST", "/api/v1/users/import", rows)
            self.assertGreaterEqual(st, 400, body)
            st, page, _ = srv.api("GET", "/api/v1/users?q=imp")
            self.assertEqual((st, page["items"]), (200, []), page)
            srv.sql("DROP TRIGGER fail_source ON inbound_users" if srv.on_pg
                    else "DROP TRIGGER fail_source")
            st, body, _ = srv.api("POST", "/api/v1/users/import", rows)
            self.assertEqual((st, body["created"]), (200, 2), body)
            st, page, _ = srv.api("GET", "/api/v1/users?q=imp")
            self.assertEqual(sorted((u["username"], u["source"]["kind"]) for u in page["items"]),
                             [("imp1", "import"), ("imp2", "import")], page)

if __name__ == "__main__":
    unittest.main()
