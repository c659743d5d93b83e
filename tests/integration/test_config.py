"""Provisioning configuration through the REST API of a real `scimitar serve`: the seed's
connection settings and their defaults, write-only secrets encrypted at rest,
validation errors naming fields, rules with their enable conditions, user filters,
attribute mappings (the seed's 14 defaults, expressions), the change events that start
(or do not start) a full resync, and Test Connection against a real `scimitar target`.
"""
import json
import os
import socket
import threading
import unittest

from harness import ON_POSTGRESQL, Serve, Target, free_port

SEED_MAPPING = [
    ("userName", "username"), ("givenName", "name.given"), ("familyName", "name.family"),
    ("workPhone", "primaryPhone"), ("workEmail", "email"), ("externalId", "externalId"),
    ("workCity", "address.locality"), ("workStreetAddeess", "address.streetAddress"),
    ("workCountry", "address.countryCode"), ("workPostalCode", "address.postalCode"),
    ("userType", "type"), ("title", "title"), ("nickName", "nickname"),
    ("formattedName", "name.formatted"),
]

POP_FILTER = {"match": "ALL", "conditions": [
    {"attribute": "population.name", "operator": "EQUALS", "value": "Sales"}]}

TOKEN = "code42-SECRET-token-0123456789"


def connection_body(base_url="https://code42.example.com/scim/v2", **extra):
    body = {"name": "Code42", "description": "Code42 SCIM",
            "scim": {"baseUrl": base_url},
            "auth": {"method": "OAUTH2_BEARER", "accessToken": TOKEN}}
    body.update(extra)
    return body


class ConfigTest(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Serve().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def api(self, method, path, body=None, raw=None):
        return self.srv.api(method, "/api/v1" + path, body=body, raw=raw)

    def ok(self, method, path, body=None, status=None):
        st, b, _ = self.api(method, path, body)
        expected = status or (201 if method == "POST" else 204 if method == "DELETE" else 200)
        self.assertEqual(st, expected, b)
        return b

    def error(self, method, path, body, status, field=None):
        st, b, _ = self.api(method, path, body)
        self.assertEqual(st, status, b)
        self.assertIn("error", b)
        if field is not None:
            self.assertEqual(b["error"].get("field"), field, b)
        return b["error"]

    def new_connection(self, name, **extra):
        body = connection_body(**extra)
        body["name"] = name
        return self.ok("POST", "/connections", body)

    def events(self, object_id):
        """The change events written for object_id, oldest first: (kind, detail)."""
        rows = self.srv.sql("SELECT kind, detail FROM change_events WHERE object_id = ? "
                            "ORDER BY seq", object_id)
        return [(k, json.loads(d) if d else None) for k, d in rows]

    def last_event(self, object_id):
        ev = self.events(object_id)
        self.assertTrue(ev, "no change event for %s" % object_id)
        return ev[-1]

    # ---- connections ----

    def test_connection_defaults_and_masked_secrets(self):
        c = self.new_connection("Defaults", headers={"X-Api-Key": "HEADER-SECRET-42"})
        self.assertEqual(c["type"], "SCIM_OUTBOUND")
        self.assertIs(c["enabled"], False)
        self.assertEqual(c["scim"], {"baseUrl": "https://code42.example.com/scim/v2",
                                     "usersResource": "/Users", "groupsResource": "/Groups",
                                     "version": "2.0"})
        self.assertEqual(c["auth"]["method"], "OAUTH2_BEARER")
        self.assertEqual(c["auth"]["typeHeader"], "Bearer")
        self.assertEqual(c["auth"]["accessToken"], "********")
        self.assertIsNone(c["auth"]["password"])
        self.assertIsNone(c["auth"]["clientSecret"])
        self.assertEqual(c["preferences"], {
            "userFilterExpression": 'username Eq "%s"', "userIdentifier": "userName",
            "removeAction": "DISABLE", "allowCreate": True, "allowUpdate": True,
            "allowDisable": True, "updateMethod": "PATCH", "maxRequestsPerSecond": 0,
            "maxConcurrency": 0, "useBulk": True})
        self.assertEqual(c["headers"], {"X-Api-Key": "********"})
        got = self.ok("GET", "/connections/" + c["id"])
        self.assertEqual(got, c)
        listed = self.ok("GET", "/connections")
        self.assertIn(c["id"], [x["id"] for x in listed["items"]])
        text = json.dumps(listed)
        self.assertNotIn(TOKEN, text)
        self.assertNotIn("HEADER-SECRET-42", text)
        # encrypted at rest: the database never holds the secrets in clear
        if ON_POSTGRESQL:
            stored = json.dumps(self.srv.sql("SELECT config FROM connections"))
            self.assertIn(c["id"], json.dumps(self.srv.sql("SELECT id FROM connections")))
            self.assertNotIn(TOKEN, stored)
            self.assertNotIn("HEADER-SECRET-42", stored)
            key = self.srv.args[self.srv.args.index("--key-file") + 1]
        else:
            for suffix in ("", "-wal"):
                path = self.srv.db + suffix
                if os.path.exists(path):
                    with open(path, "rb") as f:
                        data = f.read()
                    self.assertNotIn(TOKEN.encode(), data)
                    self.assertNotIn(b"HEADER-SECRET-42", data)
            key = self.srv.db + ".key"
        self.assertTrue(os.path.exists(key))
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        # nor the log
        self.assertNotIn(TOKEN, self.srv.output())

    def test_secret_mask_round_trip(self):
        c = self.new_connection("Mask")
        # sending the GET body back unchanged keeps the secret and writes no event
        before = len(self.events(c["id"]))
        back = self.ok("PATCH", "/connections/" + c["id"], c)
        self.assertEqual(back["auth"]["accessToken"], "********")
        self.assertEqual(len(self.events(c["id"])), before)
        # a new token is accepted (and still masked)
        back = self.ok("PATCH", "/connections/" + c["id"], {"auth": {"accessToken": "other"}})
        self.assertEqual(back["auth"]["accessToken"], "********")
        # the mask with no stored secret is refused
        self.error("POST", "/connections",
                   connection_body(auth={"method": "BASIC", "username": "u",
                                         "password": "********"}, name="NoSecret"),
                   400, "auth.password")

    def test_connection_validation_names_fields(self):
        cases = [
            ({"name": ""}, "name"),
            ({"scim": {"baseUrl": "ftp://example.com"}}, "scim.baseUrl"),
            ({"scim": {"baseUrl": "example.com/scim"}}, "scim.baseUrl"),
            ({"scim": {"baseUrl": "https://x.example.com", "version": "3"}}, "scim.version"),
            ({"scim": {"baseUrl": "https://x.example.com", "usersResource": "Users"}},
             "scim.usersResource"),
            ({"auth": {"method": "OAUTH2_BEARER", "accessToken": None}}, "auth.accessToken"),
            ({"auth": {"method": "NOPE"}}, "auth.method"),
            ({"auth": {"method": "BASIC", "username": "u"}}, "auth.password"),
            ({"auth": {"method": "OAUTH2_CLIENT_CREDENTIALS", "clientId": "i",
                       "clientSecret": "s"}}, "auth.tokenUrl"),
            ({"auth": {"accessToken": "t", "typeHeader": "two words"}}, "auth.typeHeader"),
            ({"preferences": {"userFilterExpression": 'userName eq "x"'}},
             "preferences.userFilterExpression"),
            ({"preferences": {"userFilterExpression": 'userName eq "%s" or id eq "%s"'}},
             "preferences.userFilterExpression"),
            ({"preferences": {"userIdentifier": "not an attribute"}},
             "preferences.userIdentifier"),
            ({"preferences": {"removeAction": "ARCHIVE"}}, "preferences.removeAction"),
            ({"preferences": {"updateMethod": "POST"}}, "preferences.updateMethod"),
            ({"preferences": {"allowCreate": "yes"}}, "preferences.allowCreate"),
            ({"preferences": {"maxConcurrency": -1}}, "preferences.maxConcurrency"),
            ({"preferences": {"useBulk": "no"}}, "preferences.useBulk"),
            ({"preferences": {"bogus": 1}}, "preferences.bogus"),
            ({"headers": {"Host": "x"}}, "headers.Host"),
            ({"type": "SCIM_INBOUND"}, "type"),
            ({"unknown": 1}, "unknown"),
        ]
        for extra, field in cases:
            with self.subTest(field=field):
                body = connection_body()
                for k, v in extra.items():
                    if isinstance(v, dict) and isinstance(body.get(k), dict):
                        body[k] = dict(body[k], **v)
                    else:
                        body[k] = v
                body["name"] = extra.get("name", "Invalid %s" % field)
                err = self.error("POST", "/connections", body, 400, field)
                self.assertNotIn(TOKEN, err["message"])
        # every choice of the seed's tables is accepted
        c = self.new_connection(
            "Choices", scim={"baseUrl": "http://127.0.0.1:9/scim", "version": "1.1",
                             "usersResource": "/people", "groupsResource": "/teams"},
            auth={"method": "OAUTH2_BEARER", "accessToken": "t", "typeHeader": "OAuth"},
            preferences={"userFilterExpression": 'emails[value eq "%s"]',
                         "userIdentifier": "workEmail", "removeAction": "DELETE",
                         "allowCreate": False, "allowUpdate": False, "allowDisable": False,
                         "updateMethod": "PUT", "maxRequestsPerSecond": 50,
                         "maxConcurrency": 4, "useBulk": False})
        self.assertEqual(c["scim"]["version"], "1.1")
        self.assertEqual(c["auth"]["typeHeader"], "OAuth")
        self.assertEqual(c["preferences"]["removeAction"], "DELETE")
        self.assertEqual(c["preferences"]["updateMethod"], "PUT")
        self.assertIs(c["preferences"]["useBulk"], False)
        self.assertIs(c["preferences"]["allowCreate"], False)
        basic = self.new_connection("Basic", auth={"method": "BASIC", "username": "svc",
                                                   "password": "pw"})
        self.assertEqual(basic["auth"]["username"], "svc")
        self.assertEqual(basic["auth"]["password"], "********")
        cc = self.new_connection("Client credentials", auth={
            "method": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": "https://idp.example.com/token",
            "clientId": "cid", "clientSecret": "cs", "scope": "scim"})
        self.assertEqual(cc["auth"]["clientSecret"], "********")
        self.assertEqual(cc["auth"]["clientId"], "cid")
        none = self.new_connection("None", auth={"method": "NONE"})
        self.assertEqual(none["auth"]["method"], "NONE")
        # names are unique
        self.error("POST", "/connections", connection_body(name="basic"), 409, "name")

    def test_rule_and_connection_refusals_name_the_field(self):
        conn = self.new_connection("Refusals target")
        rule = self.ok("POST", "/rules", {"name": "Refusals rule"})
        rid, missing = rule["id"], "00000000-0000-4000-8000-000000000000"
        cases = [
            ({"name": ""}, 400, "name"),
            ({"name": "tab\there"}, 400, "name"),
            ({"name": "n" * 257}, 400, "name"),
            ({"name": "Long description", "description": "d" * 4097}, 400, "description"),
            ({"name": "Description type", "description": 7}, 400, "description"),
            ({"name": "Read-only id", "id": 5}, 400, "id"),
            ({"name": "Source", "source": "ldap"}, 400, "source"),
            ({"name": "Target type", "target": 5}, 400, "target"),
            ({"name": "Target unknown", "target": missing}, 400, "target"),
            ({"name": "Target too long", "target": "x" * 60}, 400, "target"),
            ({"name": "Enabled type", "enabled": "yes"}, 400, "enabled"),
            ({"name": "Unknown field", "colour": "red"}, 400, "colour"),
            ({"name": "Bad mapping", "mappings": [{"target": "shoeSize!", "source": "username"}]},
             400, "mappings[0].target"),
            ({"name": "Bad filter", "filter": {"match": "SOME", "conditions": []}}, 400, None),
            ({"name": "Refusals rule"}, 409, "name"),
        ]
        for body, status, field in cases:
            with self.subTest(body=str(body)[:60]):
                self.error("POST", "/rules", body, status, field)
        self.error("PATCH", "/rules/" + rid, {"target": "nope"}, 400, "target")
        self.error("PATCH", "/rules/" + missing, {"name": "x"}, 404)
        self.error("GET", "/rules/" + missing, None, 404)
        self.error("DELETE", "/rules/" + missing, None, 404)
        self.error("PUT", "/rules/%s/mappings" % rid, {"not": "an array"}, 400, "mappings")
        self.error("PUT", "/rules/%s/mappings" % missing, [], 404)
        js = {"Content-Type": "application/json"}
        st, b, _ = self.srv.api("PUT", "/api/v1/rules/%s/filter" % rid, raw="{broken",
                                headers=js)
        self.assertEqual(st, 400, b)
        st, b, _ = self.srv.api("PUT", "/api/v1/rules/%s/filter" % rid, raw=b'"\xff"',
                                headers=js)
        self.assertEqual(st, 400, b)
        self.assertIn("UTF-8", b["error"]["message"])
        # a filter of null clears it; the rule keeps its other fields
        self.ok("PUT", "/rules/%s/filter" % rid, POP_FILTER)
        self.ok("PATCH", "/rules/" + rid, {"filter": None})
        self.assertIsNone(self.ok("GET", "/rules/%s/filter" % rid))
        self.assertEqual(self.ok("GET", "/rules/" + rid)["name"], "Refusals rule")
        # connections: unknown ids, bodies that are not objects, a bad edit to test
        cid = conn["id"]
        self.error("GET", "/connections/" + missing, None, 404)
        self.error("PATCH", "/connections/" + missing, {"description": "x"}, 404)
        self.error("DELETE", "/connections/" + missing, None, 404)
        self.error("POST", "/connections/%s/test" % missing, None, 404)
        self.error("POST", "/connections", ["not", "an", "object"], 400)
        self.error("PATCH", "/connections/" + cid, {"preferences": {"maxConcurrency": "x"}},
                   400, "preferences.maxConcurrency")
        self.error("POST", "/connections/%s/test" % cid, {"auth": {"method": "NOPE"}}, 400,
                   "auth.method")
        r = self.ok("POST", "/connections/%s/test" % cid, {"scim": {"baseUrl": "ftp://x"}},
                    status=200)
        self.assertEqual([(x["name"], x["ok"]) for x in r["steps"]], [("URL", False)])
        self.error("POST", "/connections/test", dict(connection_body(), id=missing), 404)
        # a rule's target cannot be deleted while the rule uses it
        self.ok("PATCH", "/rules/" + rid, {"target": cid})
        err = self.error("DELETE", "/connections/" + cid, None, 409)
        self.assertIn("Refusals rule", err["message"])
        self.ok("DELETE", "/rules/" + rid)
        self.ok("DELETE", "/connections/" + cid)

    def test_paging(self):
        for i in range(3):
            self.new_connection("Paged %d" % i)
            self.ok("POST", "/rules", {"name": "Paged rule %d" % i})
        for coll in ("/connections", "/rules"):
            seen, cursor = [], None
            while True:
                page = self.ok("GET", coll + "?limit=2" + ("&cursor=" + cursor if cursor else ""))
                self.assertLessEqual(len(page["items"]), 2)
                seen += [x["id"] for x in page["items"]]
                cursor = page["nextCursor"]
                if not cursor:
                    break
            self.assertEqual(len(seen), len(set(seen)))
            self.assertEqual(len(seen), len(self.ok("GET", coll + "?limit=1000")["items"]))
            self.error("GET", coll + "?cursor=bogus", None, 400, "cursor")
            self.error("GET", coll + "?limit=0", None, 400, "limit")

    def test_connection_events(self):
        c = self.new_connection("Events")
        cid = c["id"]
        self.assertEqual(self.last_event(cid), ("connection.changed",
                                                {"resync": False, "change": "created",
                                                 "enabled": False}))
        self.ok("PATCH", "/connections/" + cid, {"enabled": True})
        self.assertIs(self.last_event(cid)[1]["resync"], True)
        n = len(self.events(cid))
        self.ok("PATCH", "/connections/" + cid, {"name": "Events renamed",
                                                 "description": "new words"})
        ev = self.events(cid)
        self.assertEqual(len(ev), n + 1)
        self.assertIs(ev[-1][1]["resync"], False)
        for change in ({"auth": {"accessToken": "rotated"}},
                       {"preferences": {"allowDisable": False}},
                       {"scim": {"usersResource": "/Accounts"}},
                       {"headers": {"X-Key": "v"}}):
            with self.subTest(change=change):
                self.ok("PATCH", "/connections/" + cid, change)
                self.assertIs(self.last_event(cid)[1]["resync"], True)
        self.ok("PATCH", "/connections/" + cid, {"enabled": False})
        self.assertEqual(self.last_event(cid)[1], {"resync": False, "change": "updated",
                                                   "enabled": False})
        # changes to a disabled connection start no resync
        self.ok("PATCH", "/connections/" + cid, {"auth": {"accessToken": "again"}})
        self.assertIs(self.last_event(cid)[1]["resync"], False)
        self.ok("DELETE", "/connections/" + cid)
        self.assertEqual(self.last_event(cid)[1]["change"], "deleted")
        self.error("GET", "/connections/" + cid, None, 404)

    # ---- rules ----

    def test_rule_lifecycle_and_enable_rules(self):
        conn = self.new_connection("Rule target")
        rule = self.ok("POST", "/rules", {"name": "Code42 rule", "description": "optional"})
        self.assertEqual(rule["source"], "directory")
        self.assertIsNone(rule["target"])
        self.assertIs(rule["enabled"], False)
        rid = rule["id"]
        # a new rule starts with the seed's 14 rows
        m = self.ok("GET", "/rules/%s/mappings" % rid)
        self.assertEqual([(r["target"], r["source"]) for r in m], SEED_MAPPING)
        self.assertIsNone(self.ok("GET", "/rules/%s/filter" % rid))
        # cannot enable without a target
        self.error("PATCH", "/rules/" + rid, {"enabled": True}, 400, "target")
        # a disabled connection can be the target ...
        got = self.ok("PATCH", "/rules/" + rid, {"target": conn["id"]})
        self.assertEqual(got["target"], conn["id"])
        # ... but the rule cannot be enabled until the connection is (409 naming it)
        err = self.error("PATCH", "/rules/" + rid, {"enabled": True}, 409)
        self.assertIn("Rule target", err["message"])
        self.ok("PATCH", "/connections/" + conn["id"], {"enabled": True})
        # a filter naming a population or group is required
        self.error("PATCH", "/rules/" + rid, {"enabled": True}, 400, "filter")
        err = self.error("PUT", "/rules/%s/filter" % rid, {"match": "ALL", "conditions": [
            {"attribute": "title", "operator": "EQUALS", "value": "x"}]}, 400)
        self.assertIn("population", err["message"])
        self.error("PUT", "/rules/%s/filter" % rid, {"match": "SOME", "conditions": [
            {"attribute": "population.name", "operator": "EQUALS", "value": "x"}]}, 400,
            "match")
        self.error("PUT", "/rules/%s/filter" % rid, {"match": "ALL", "conditions": [
            {"attribute": "population.name", "operator": "LIKE", "value": "x"}]}, 400,
            "conditions[0].operator")
        f = self.ok("PUT", "/rules/%s/filter" % rid, POP_FILTER)
        self.assertEqual(f, POP_FILTER)
        self.assertEqual(self.ok("GET", "/rules/%s/filter" % rid), POP_FILTER)
        group_filter = {"match": "ANY", "conditions": [
            {"attribute": "group", "operator": "EQUALS", "value": "Engineering"},
            {"match": "ALL", "conditions": [
                {"attribute": "population.name", "operator": "EQUALS", "value": "Sales"},
                {"attribute": "title", "operator": "STARTS_WITH", "value": "VP"}]}]}
        self.assertEqual(self.ok("PUT", "/rules/%s/filter" % rid, group_filter), group_filter)
        self.ok("PUT", "/rules/%s/filter" % rid, POP_FILTER)
        on = self.ok("PATCH", "/rules/" + rid, {"enabled": True})
        self.assertIs(on["enabled"], True)
        self.assertEqual(self.ok("GET", "/rules/" + rid), on)
        # an enabled rule cannot move to a disabled connection
        off = self.new_connection("Disabled target")
        err = self.error("PATCH", "/rules/" + rid, {"target": off["id"]}, 409)
        self.assertIn("Disabled target", err["message"])
        # disabling the connection leaves the rule enabled, and it can still be renamed
        self.ok("PATCH", "/connections/" + conn["id"], {"enabled": False})
        renamed = self.ok("PATCH", "/rules/" + rid, {"description": "renamed while off"})
        self.assertIs(renamed["enabled"], True)
        # ... but it cannot be enabled again until the connection is
        self.ok("PATCH", "/rules/" + rid, {"enabled": False})
        err = self.error("PATCH", "/rules/" + rid, {"enabled": True}, 409)
        self.assertIn("Rule target", err["message"])
        self.ok("PATCH", "/connections/" + conn["id"], {"enabled": True})
        self.ok("PATCH", "/rules/" + rid, {"enabled": True})
        # a connection still targeted by a rule cannot be deleted (409 naming the rule)
        err = self.error("DELETE", "/connections/" + conn["id"], None, 409)
        self.assertIn("Code42 rule", err["message"])
        self.assertIn(rid, [r["id"] for r in self.ok("GET", "/rules")["items"]])
        self.error("POST", "/rules", {"description": "no name"}, 400, "name")
        self.error("POST", "/rules", {"name": "Bad target", "target": "nope"}, 400, "target")
        self.error("POST", "/rules", {"name": "Bad source", "source": "ldap"}, 400, "source")
        self.error("POST", "/rules", {"name": "code42 RULE"}, 409, "name")
        self.ok("DELETE", "/rules/" + rid)
        self.error("GET", "/rules/" + rid, None, 404)
        self.ok("DELETE", "/connections/" + conn["id"])

    def test_mappings(self):
        rule = self.ok("POST", "/rules", {"name": "Mapping rule"})
        path = "/rules/%s/mappings" % rule["id"]
        rows = [{"target": "userName", "source": "lower(email)"},
                {"target": "displayName", "source": "name.given + ' ' + name.family"},
                {"target": "department", "source": "population.name"},
                {"target": "workStreetAddress", "source": "address.streetAddress"},
                {"target": 'emails[type eq "home"].value', "source": "coalesce(email, '')"},
                {"target": "title", "source": "switch(type, 'E', 'Employee', 'Other')"}]
        self.assertEqual(self.ok("PUT", path, rows), rows)
        self.assertEqual(self.ok("GET", path), rows)
        # the seed's misspelling is an alias of workStreetAddress: a duplicate here
        dup = rows + [{"target": "workStreetAddeess", "source": "address.streetAddress"}]
        err = self.error("PUT", path, dup, 400, "mappings[6].target")
        self.assertIn("mappings[3]", err["message"])
        self.error("PUT", path, rows + [{"target": "noSuchAttr", "source": "email"}], 400,
                   "mappings[6].target")
        bad = [rows[0], rows[1], rows[2], {"target": "nickName", "source": "lower(nickname"}]
        err = self.error("PUT", path, bad, 400, "mappings[3].source")
        self.assertEqual(err["message"], "at position 15: expected ',' or ')' but found the end")
        err = self.error("PUT", path, [rows[0], {"target": "title", "source": "nosuchfield"}],
                         400, "mappings[1].source")
        self.assertTrue(err["message"].startswith("at position 1: unknown field"), err)
        self.error("PUT", path, [{"target": "title", "source": "title"}], 400, "mappings")
        self.error("PUT", path, {"target": "userName"}, 400, "mappings")
        self.assertEqual(self.ok("GET", path), rows)

    def test_rule_events(self):
        conn = self.new_connection("Rule events target")
        self.ok("PATCH", "/connections/" + conn["id"], {"enabled": True})
        rule = self.ok("POST", "/rules", {"name": "Evented", "target": conn["id"]})
        rid = rule["id"]
        self.assertEqual(self.last_event(rid), ("rule.changed", {
            "resync": False, "change": "created", "enabled": False}))
        self.ok("PUT", "/rules/%s/filter" % rid, POP_FILTER)
        self.assertIs(self.last_event(rid)[1]["resync"], False)  # disabled: nothing runs
        self.ok("PATCH", "/rules/" + rid, {"enabled": True})
        self.assertEqual(self.last_event(rid)[1], {"resync": True, "change": "updated",
                                                   "enabled": True})
        n = len(self.events(rid))
        self.ok("PATCH", "/rules/" + rid, {"name": "Evented 2", "description": "words"})
        ev = self.events(rid)
        self.assertEqual(len(ev), n + 1)
        self.assertIs(ev[-1][1]["resync"], False)
        # unchanged writes add no event
        self.ok("PUT", "/rules/%s/filter" % rid, POP_FILTER)
        self.assertEqual(len(self.events(rid)), n + 1)
        other_filter = {"match": "ANY", "conditions": POP_FILTER["conditions"] + [
            {"attribute": "group", "operator": "EQUALS", "value": "Eng"}]}
        self.ok("PUT", "/rules/%s/filter" % rid, other_filter)
        self.assertIs(self.last_event(rid)[1]["resync"], True)
        m = self.ok("GET", "/rules/%s/mappings" % rid)
        self.ok("PUT", "/rules/%s/mappings" % rid, m[:5])
        self.assertIs(self.last_event(rid)[1]["resync"], True)
        other = self.new_connection("Rule events second")
        self.ok("PATCH", "/connections/" + other["id"], {"enabled": True})
        self.ok("PATCH", "/rules/" + rid, {"target": other["id"]})
        self.assertIs(self.last_event(rid)[1]["resync"], True)
        self.ok("PATCH", "/rules/" + rid, {"enabled": False})
        self.assertEqual(self.last_event(rid)[1], {"resync": False, "change": "updated",
                                                   "enabled": False})
        self.ok("DELETE", "/rules/" + rid)
        self.assertEqual(self.last_event(rid)[1]["change"], "deleted")


class ConnectionTestTest(unittest.TestCase):
    """Test Connection against a real `scimitar target`."""

    def test_against_target(self):
        with Target(token="target-SECRET-tok", no_delete=True) as tgt, Serve() as srv:
            def test(body, cid=None):
                path = "/api/v1/connections/%s/test" % cid if cid else "/api/v1/connections/test"
                st, b, _ = srv.api("POST", path, body)
                self.assertEqual(st, 200, b)
                self.assertNotIn("target-SECRET-tok", json.dumps(b))
                return b

            def steps(report):
                return [(s["name"], s["ok"]) for s in report["steps"]]

            body = {"name": "Code42", "scim": {"baseUrl": tgt.scim_base},
                    "auth": {"method": "OAUTH2_BEARER", "accessToken": "target-SECRET-tok"}}
            r = test(body)
            self.assertIs(r["ok"], True, r)
            self.assertEqual(steps(r)[:6], [("URL", True), ("DNS", True), ("Connect", True),
                                            ("Authentication", True), ("Users", True),
                                            ("ServiceProviderConfig", True)])
            self.assertIn("PATCH supported", r["steps"][5]["detail"])
            # then what the target can do: steps that never fail the test
            self.assertEqual(steps(r)[6:], [("ResourceTypes", True), ("Schemas", True),
                                            ("Filter", True), ("Listing", True),
                                            ("UserNameCase", True), ("Mapping", True)])
            self.assertFalse(any(s["warning"] for s in r["steps"]), r)
            # a saved connection, tested by id
            st, conn, _ = srv.api("POST", "/api/v1/connections", body)
            self.assertEqual(st, 201, conn)
            self.assertIs(test(None, conn["id"])["ok"], True)
            # wrong token: the authentication step fails and says what to fix
            wrong = dict(body, auth={"method": "OAUTH2_BEARER", "accessToken": "wrong-one"})
            r = test(wrong)
            self.assertIs(r["ok"], False)
            self.assertEqual(steps(r)[-1], ("Authentication", False))
            self.assertIn("401", r["steps"][-1]["detail"])
            self.assertIn("OAuth Access Token", r["steps"][-1]["detail"])
            self.assertNotIn("wrong-one", json.dumps(r))
            # unsaved edits over a saved connection (the console's edit wizard)
            r = test({"auth": {"accessToken": "wrong-one"}}, conn["id"])
            self.assertEqual(steps(r)[-1], ("Authentication", False))
            # a failing connection can still be saved
            st, saved, _ = srv.api("POST", "/api/v1/connections", dict(wrong, name="Wrong"))
            self.assertEqual(st, 201, saved)
            # closed port: the connect step fails
            closed = dict(body, scim={"baseUrl": "http://127.0.0.1:%d/scim/v2" % free_port()})
            r = test(closed)
            self.assertEqual(steps(r), [("URL", True), ("DNS", True), ("Connect", False)])
            # https to a plain-HTTP port: the TLS step fails
            tls = dict(body, scim={"baseUrl": tgt.scim_base.replace("http://", "https://")})
            r = test(tls)
            self.assertEqual(steps(r), [("URL", True), ("DNS", True), ("Connect", True),
                                        ("TLS", False)])
            # wrong path: the users step fails with a hint
            r = test(dict(body, scim={"baseUrl": tgt.base + "/nope"}))
            self.assertEqual(steps(r)[-1], ("Users", False))
            self.assertIn("scim.baseUrl", r["steps"][-1]["detail"])
            # a URL that is not http(s) fails the URL step
            r = test(dict(body, scim={"baseUrl": "ftp://example.com"}))
            self.assertEqual(steps(r), [("URL", False)])
            # an unsaved body needs no name to be tested
            nameless = dict(body)
            del nameless["name"]
            self.assertIs(test(nameless)["ok"], True)
            # other validation errors are 400s naming the field
            st, b, _ = srv.api("POST", "/api/v1/connections/test",
                               dict(body, auth={"method": "BASIC"}))
            self.assertEqual(st, 400, b)
            self.assertEqual(b["error"]["field"], "auth.username")
            self.assertNotIn("target-SECRET-tok", srv.output())

    def test_what_the_target_answers_is_explained(self):
        """Test Connection against targets that answer badly, each step saying what to
        fix: an error or a non-SCIM answer to the users query, no PATCH in the
        ServiceProviderConfig, a 401 for each authentication method, and a port that
        does not speak HTTP."""
        from scimfake import FakeTarget
        mode = {"users": None, "spc": None, "auth": None}

        def get(path, body):
            if mode["auth"] and "/Users" in path:
                return 401, {"detail": "who are you?"}, {}
            if mode["users"] and "/Users?" in path:
                return mode["users"]
            if path.startswith("/scim/v2/ServiceProviderConfig"):
                return mode["spc"] or (404, {"detail": "no such endpoint"}, {})
            return None

        def last(r):
            return (r["steps"][-1]["name"], r["steps"][-1]["ok"], r["steps"][-1]["detail"])

        def spc(r):  # a passing test goes on to advisory steps after this one
            return [s["detail"] for s in r["steps"] if s["name"] == "ServiceProviderConfig"][0]

        with FakeTarget(token=None, hooks={"GET": get}) as tgt, Serve() as srv:
            def test(**over):
                body = {"name": "T", "scim": {"baseUrl": tgt.scim_base},
                        "auth": {"method": "NONE"}}
                body.update(over)
                st, b, _ = srv.api("POST", "/api/v1/connections/test", body)
                self.assertEqual(st, 200, b)
                return b

            r = test()
            self.assertIs(r["ok"], True, r)
            self.assertIn("PATCH support is assumed", spc(r))
            mode["users"] = (500, {"detail": "database down"}, {})
            name, ok, detail = last(test())
            self.assertEqual((name, ok), ("Users", False))
            self.assertIn("500 from the target for GET /Users?filter=", detail)
            self.assertIn("database down", detail)
            mode["users"] = (400, {"detail": "bad filter"}, {})
            self.assertIn("check preferences.userFilterExpression", last(test())[2])
            mode["users"] = (200, {"hello": "world"}, {})
            name, ok, detail = last(test())
            self.assertEqual((name, ok), ("Users", False))
            self.assertIn("not a SCIM ListResponse", detail)
            mode["users"] = None
            mode["spc"] = (200, {"patch": {"supported": False}, "filter": {"supported": True},
                                 "bulk": {"supported": False}}, {})
            name, ok, detail = last(test())
            self.assertEqual((name, ok), ("ServiceProviderConfig", False))
            self.assertIn("set preferences.updateMethod to PUT", detail)
            self.assertIn("filter supported, bulk not supported", detail)
            r = test(preferences={"updateMethod": "PUT"})
            self.assertIs(r["ok"], True, r)
            self.assertIn("PATCH not supported, filter supported", spc(r))
            mode["auth"] = True
            hints = [({"method": "NONE"}, "choose an Authentication Method"),
                     ({"method": "BASIC", "username": "u", "password": "p-SECRET"},
                      "check the Basic user name and password"),
                     ({"method": "OAUTH2_BEARER", "accessToken": "t-SECRET"},
                      "check the OAuth Access Token")]
            for auth, hint in hints:
                name, ok, detail = last(test(auth=auth))
                self.assertEqual((name, ok), ("Authentication", False), auth)
                self.assertIn("401 from the target", detail)
                self.assertIn(hint, detail)
                self.assertNotIn("SECRET", detail)
        # a port that accepts and hangs up without a word of HTTP
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        stop = threading.Event()

        def hang_up():
            lsock.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = lsock.accept()
                    conn.close()
                except OSError:
                    pass
        t = threading.Thread(target=hang_up, daemon=True)
        t.start()
        try:
            with Serve() as srv:
                st, r, _ = srv.api("POST", "/api/v1/connections/test", {
                    "name": "T", "scim": {"baseUrl": "http://127.0.0.1:%d/scim/v2" % port},
                    "auth": {"method": "NONE"}})
                self.assertEqual(st, 200, r)
                name, ok, detail = last(r)
                self.assertEqual((name, ok), ("Users", False))
                self.assertIn("failed after connecting", detail)
        finally:
            stop.set()
            t.join()
            lsock.close()

    def test_secrets_key(self):
        """Secrets survive a restart with the same key; with another key they cannot be
        read, and sending them again repairs the connection."""
        import base64
        key_a = base64.b64encode(bytes(range(32))).decode()
        key_b = base64.b64encode(bytes(range(1, 33))).decode()
        with Target(token="key-SECRET-tok") as tgt:
            body = {"name": "Keyed", "scim": {"baseUrl": tgt.scim_base},
                    "auth": {"method": "OAUTH2_BEARER", "accessToken": "key-SECRET-tok"}}
            srv = Serve(env={"SCIMITAR_KEY": key_a}).start()
            try:
                st, conn, _ = srv.api("POST", "/api/v1/connections", body)
                self.assertEqual(st, 201, conn)
                srv.stop()
                srv.start()
                st, r, _ = srv.api("POST", "/api/v1/connections/%s/test" % conn["id"])
                self.assertIs(r["ok"], True, r)
                srv.stop()
                srv.env["SCIMITAR_KEY"] = key_b
                srv.start()
                st, got, _ = srv.api("GET", "/api/v1/connections/" + conn["id"])
                self.assertEqual(st, 200, got)
                self.assertEqual(got["auth"]["accessToken"], "********")
                st, err, _ = srv.api("POST", "/api/v1/connections/%s/test" % conn["id"])
                self.assertEqual(st, 500, err)
                self.assertIn("secrets key", err["error"]["message"])
                st, err, _ = srv.api("PATCH", "/api/v1/connections/" + conn["id"],
                                     {"description": "x"})
                self.assertEqual(st, 400, err)
                self.assertEqual(err["error"]["field"], "auth.accessToken")
                self.assertIn("send every secret again", err["error"]["message"])
                st, fixed, _ = srv.api("PATCH", "/api/v1/connections/" + conn["id"],
                                       {"auth": {"accessToken": "key-SECRET-tok"}})
                self.assertEqual(st, 200, fixed)
                st, r, _ = srv.api("POST", "/api/v1/connections/%s/test" % conn["id"])
                self.assertIs(r["ok"], True, r)
                self.assertNotIn("key-SECRET-tok", srv.output())
            finally:
                srv.__exit__(None, None, None)

    def test_client_credentials_and_basic(self):
        extra = ["--client-id", "cid", "--client-secret", "cc-SECRET", "--basic", "bu:bp-SECRET"]
        with Target(token=None, extra=extra) as tgt, Serve() as srv:
            def test(auth):
                st, b, _ = srv.api("POST", "/api/v1/connections/test", {
                    "name": "T", "scim": {"baseUrl": tgt.scim_base}, "auth": auth})
                self.assertEqual(st, 200, b)
                self.assertNotIn("SECRET", json.dumps(b))
                return b
            cc = {"method": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": tgt.base + "/oauth/token",
                  "clientId": "cid", "clientSecret": "cc-SECRET"}
            self.assertIs(test(cc)["ok"], True)
            r = test(dict(cc, clientSecret="wrong-SECRET"))
            self.assertEqual(r["steps"][-1]["name"], "Authentication")
            self.assertIs(r["steps"][-1]["ok"], False)
            self.assertIn("Client Secret", r["steps"][-1]["detail"])
            self.assertIs(test({"method": "BASIC", "username": "bu",
                                "password": "bp-SECRET"})["ok"], True)
            r = test({"method": "BASIC", "username": "bu", "password": "no-SECRET"})
            self.assertEqual((r["steps"][-1]["name"], r["steps"][-1]["ok"]),
                             ("Authentication", False))


if __name__ == "__main__":
    unittest.main()
