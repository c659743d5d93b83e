"""Drives each SCIM server of interop.py by hand with the requests scimitar's engine
sends (and a few it might), and prints every request with the server's answer: the
evidence behind docs/interop.md. Not a test (it asserts nothing); run it again when a
server's version changes and compare.

    python3 tests/integration/interop_probe.py [scimitar] [scimmy] [scimmy-core] [better-auth] [fake]
"""
import json
import sys
import urllib.parse

from interop import (ENTERPRISE, USER_SCHEMA, BetterAuthServer, FilterIgnoringTarget,
                     ScimitarTarget, ScimmyServer)

PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORK_PHONE = 'phoneNumbers[type eq "work"].value'
WORK_CITY = 'addresses[type eq "work"].locality'
WORK_EMAIL = 'emails[type eq "work"].value'


def seed_user(name, n=1):
    """The body the engine POSTs for a directory user under the seed's 14-row mapping."""
    return {"schemas": [USER_SCHEMA], "userName": name,
            "name": {"givenName": "Given%d" % n, "familyName": "Family%d" % n,
                     "formatted": "Given%d Family%d" % (n, n)},
            "phoneNumbers": [{"value": "+1 555 %04d" % n, "type": "work"}],
            "emails": [{"value": "u%d@example.com" % n, "type": "work", "primary": True}],
            "externalId": "E%d" % n,
            "addresses": [{"locality": "Springfield", "type": "work",
                           "streetAddress": "%d Main St" % n, "country": "US",
                           "postalCode": "62701"}],
            "userType": "Employee", "title": "Engineer", "nickName": "nick%d" % n,
            "active": True}


def short(v, limit=700):
    s = json.dumps(v, sort_keys=False) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


class Probe:
    def __init__(self, tgt):
        self.t = tgt

    def call(self, label, method, path, body=None, raw=None, headers=None, token=None,
             show=True):
        st, ans, h = self.t.scim(method, path, body=body, raw=raw, headers=headers,
                                 token=token)
        print("\n### %s\n%s %s" % (label, method, urllib.parse.unquote(path)))
        if body is not None:
            print("  > " + short(body))
        if raw is not None:
            print("  > (raw) " + short(raw))
        extra = {k: h[k] for k in ("etag", "location", "www-authenticate", "content-type")
                 if k in h}
        print("  < %s %s" % (st, short(extra)))
        if (show or st >= 400) and ans is not None:
            print("  < " + short(ans))
        return st, ans, h

    def patch(self, label, uid, *ops, show=True):
        return self.call(label, "PATCH", "/Users/" + uid,
                         {"schemas": [PATCHOP], "Operations": list(ops)}, show=show)

    def get(self, uid):
        st, ans, _ = self.t.scim("GET", "/Users/" + uid)
        return ans

    def show_user(self, label, uid, keys=("phoneNumbers", "emails", "addresses", "name",
                                          "nickName", "title", "active", ENTERPRISE)):
        u = self.get(uid) or {}
        print("  = %s: %s" % (label, short({k: u.get(k) for k in keys if k in u})))

    def run(self):
        t = self.t
        print("\n\n## %s at %s" % (t.name, t.scim_base))
        for p in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
            self.call("discovery " + p, "GET", p, show=(p != "/Schemas"))
        st, schemas, _ = t.scim("GET", "/Schemas")
        for s in (schemas or {}).get("Resources", []) if isinstance(schemas, dict) else []:
            print("  schema %s: %s" % (s.get("id"), ", ".join(
                a["name"] + ("(" + ",".join(x["name"] for x in a.get("subAttributes") or []) + ")"
                             if a.get("subAttributes") else "")
                for a in s.get("attributes", []))))

        # ---- create, look up -----------------------------------------------------
        st, ada, h = self.call("POST a full seed user", "POST", "/Users", seed_user("ada", 1))
        aid = ada.get("id") if isinstance(ada, dict) else None
        for f in ('userName eq "ada"', 'userName eq "ADA"', 'username Eq "ada"',
                  'USERNAME EQ "Ada"', 'externalId eq "E1"', 'externalId eq "e1"',
                  'emails[type eq "work"].value eq "u1@example.com"',
                  'emails.value eq "u1@example.com"', 'userName sw "a"',
                  'userName eq "ada" and active eq true', 'nickName eq "nick1"',
                  'foo eq "x"', 'userName eq', 'userName eq "nobody"'):
            st, ans, _ = self.call("filter " + f, "GET",
                                   "/Users?filter=" + urllib.parse.quote(f), show=False)
            if isinstance(ans, dict) and "Resources" in ans:
                print("  = totalResults=%s userNames=%s" % (ans.get("totalResults"), [
                    r.get("userName") for r in ans.get("Resources", [])]))
            else:
                print("  < " + short(ans))
        self.call("POST the same userName again", "POST", "/Users", seed_user("ada", 1))
        self.call("POST the userName in another case", "POST", "/Users", seed_user("ADA", 1))
        self.call("POST without userName", "POST", "/Users", {"schemas": [USER_SCHEMA]})
        self.call("POST with an attribute no schema has", "POST", "/Users",
                  dict(seed_user("fooey", 9), fooBar="x"))
        self.call("POST with the enterprise extension", "POST", "/Users",
                  dict(seed_user("ent", 8), schemas=[USER_SCHEMA, ENTERPRISE],
                       **{ENTERPRISE: {"department": "R&D", "employeeNumber": "42"}}))
        self.call("POST enterprise attributes without naming the schema", "POST", "/Users",
                  dict(seed_user("ent2", 7), **{ENTERPRISE: {"department": "R&D"}}))
        self.call("POST with only userName", "POST", "/Users",
                  {"schemas": [USER_SCHEMA], "userName": "bare"})
        self.call("POST without schemas", "POST", "/Users", {"userName": "noschemas"})
        self.call("POST with a non-canonical phone type", "POST", "/Users",
                  dict(seed_user("odd", 6), phoneNumbers=[{"value": "1", "type": "desk"}]))

        # ---- PATCH against a pre-existing account missing the multi-valued entries --
        st, pre, _ = self.call("POST a pre-existing account (userName + name only)", "POST",
                               "/Users", {"schemas": [USER_SCHEMA], "userName": "pre",
                                          "name": {"givenName": "Pre", "familyName": "Existing"}})
        if st == 400:
            st, pre, _ = self.call("POST it again with a work email (the server requires one)",
                                   "POST", "/Users", {
                                       "schemas": [USER_SCHEMA], "userName": "pre",
                                       "name": {"givenName": "Pre", "familyName": "Existing"},
                                       "emails": [{"type": "work", "value": "pre@old.example"}]})
        pid = pre.get("id") if isinstance(pre, dict) else None
        if pid:
            self.patch("add phoneNumbers[type eq work].value when there is no entry", pid,
                       {"op": "add", "path": WORK_PHONE, "value": "+1 555 0001"}, show=False)
            self.show_user("after", pid)
            self.patch("replace phoneNumbers[type eq work].value when there is no entry", pid,
                       {"op": "replace", "path": WORK_PHONE, "value": "+1 555 0002"}, show=False)
            self.show_user("after", pid)
            self.patch("add addresses[type eq work].locality when there is no entry", pid,
                       {"op": "add", "path": WORK_CITY, "value": "Springfield"}, show=False)
            self.show_user("after", pid)
            self.patch("remove phoneNumbers[type eq work].value when there is no entry", pid,
                       {"op": "remove", "path": WORK_PHONE}, show=False)
            self.patch("remove title when there is none", pid,
                       {"op": "remove", "path": "title"}, show=False)
            self.patch("one good op and one failing op in one PATCH", pid,
                       {"op": "replace", "path": "title", "value": "Half"},
                       {"op": "add", "path": WORK_PHONE, "value": "+1 555 0003"}, show=False)
            self.show_user("after (is title Half? all-or-nothing?)", pid)
            st, pre2, _ = self.call("POST another pre-existing account for whole entries",
                                    "POST", "/Users", {
                                        "schemas": [USER_SCHEMA], "userName": "pre2",
                                        "name": {"givenName": "Pre", "familyName": "Two"},
                                        "emails": [{"type": "home", "value": "pre2@home.example"}]},
                                    show=False)
            pid = pre2.get("id") if isinstance(pre2, dict) else pid
            self.patch("add a whole phoneNumbers entry", pid,
                       {"op": "add", "path": "phoneNumbers",
                        "value": [{"type": "work", "value": "+1 555 0004"}]}, show=False)
            self.show_user("after", pid)
            self.patch("add the same whole entry again (type now exists)", pid,
                       {"op": "add", "path": "phoneNumbers",
                        "value": [{"type": "work", "value": "+1 555 0005"}]}, show=False)
            self.show_user("after", pid)
            self.patch("add a whole emails entry", pid,
                       {"op": "add", "path": "emails",
                        "value": [{"type": "work", "value": "pre@example.com", "primary": True}]},
                       show=False)
            self.patch("add a whole addresses entry", pid,
                       {"op": "add", "path": "addresses",
                        "value": [{"type": "work", "locality": "Springfield",
                                   "streetAddress": "1 Main St", "country": "US",
                                   "postalCode": "62701"}]}, show=False)
            self.show_user("after", pid)
            self.patch("add name as a whole object", pid,
                       {"op": "add", "path": "name",
                        "value": {"givenName": "G", "familyName": "F", "formatted": "G F"}},
                       show=False)
            self.show_user("after", pid, keys=("name",))
            self.patch("op without path: add {title, nickName}", pid,
                       {"op": "add", "value": {"title": "NoPath", "nickName": "np"}},
                       show=False)
            self.show_user("after", pid, keys=("title", "nickName"))

        # ---- PATCH when the entries exist (the seed user) ---------------------------
        if aid:
            self.patch("replace phoneNumbers[type eq work].value when it exists", aid,
                       {"op": "replace", "path": WORK_PHONE, "value": "+1 555 9999"}, show=False)
            self.patch("add phoneNumbers[type eq work].value when it exists", aid,
                       {"op": "add", "path": WORK_PHONE, "value": "+1 555 8888"}, show=False)
            self.patch("replace addresses[type eq work].locality when it exists", aid,
                       {"op": "replace", "path": WORK_CITY, "value": "Shelbyville"}, show=False)
            self.patch("replace emails[type eq work].value when it exists", aid,
                       {"op": "replace", "path": WORK_EMAIL, "value": "new@example.com"},
                       show=False)
            self.show_user("after", aid)
            self.patch("remove phoneNumbers[type eq work].value when it exists", aid,
                       {"op": "remove", "path": WORK_PHONE}, show=False)
            self.show_user("after", aid)
            self.patch("replace title, name.givenName", aid,
                       {"op": "replace", "path": "title", "value": "Chief"},
                       {"op": "replace", "path": "name.givenName", "value": "Ada2"}, show=False)
            self.patch("op name in another case (Replace)", aid,
                       {"op": "Replace", "path": "title", "value": "Chief2"}, show=False)
            self.patch("replace nickName", aid,
                       {"op": "replace", "path": "nickName", "value": "nick-new"}, show=False)
            self.patch("add nickName", aid,
                       {"op": "add", "path": "nickName", "value": "nick-new2"}, show=False)
            self.patch("remove nickName", aid, {"op": "remove", "path": "nickName"}, show=False)
            self.patch("replace an attribute no schema has (fooBar)", aid,
                       {"op": "replace", "path": "fooBar", "value": "x"}, show=False)
            self.patch("add an enterprise attribute by URN path", aid,
                       {"op": "add", "path": ENTERPRISE + ":department", "value": "R&D"},
                       show=False)
            self.show_user("after", aid)
            self.patch("remove title", aid, {"op": "remove", "path": "title"}, show=False)
            self.patch("replace userType, externalId", aid,
                       {"op": "replace", "path": "userType", "value": "Contractor"},
                       {"op": "replace", "path": "externalId", "value": "E1b"}, show=False)
            self.patch("active false", aid, {"op": "replace", "path": "active", "value": False},
                       show=False)
            self.show_user("after", aid, keys=("active",))
            self.patch("active true", aid, {"op": "replace", "path": "active", "value": True},
                       show=False)
            self.patch("active false without path", aid,
                       {"op": "replace", "value": {"active": False}}, show=False)
            self.show_user("after", aid, keys=("active",))
            self.call("GET the user", "GET", "/Users/" + aid)
            st, cur, h = t.scim("GET", "/Users/" + aid)
            if h.get("etag"):
                self.patch_if_match(aid, '"wrong"')
            put = seed_user("ada", 1)
            put.pop("nickName")
            put.pop("phoneNumbers")
            self.call("PUT without nickName and phoneNumbers", "PUT", "/Users/" + aid, put)
            self.call("PUT with an id in the body that differs", "PUT", "/Users/" + aid,
                      dict(seed_user("ada", 1), id="other"), show=False)
            self.call("PUT changing userName to another user's", "PUT", "/Users/" + aid,
                      seed_user("pre", 1), show=False)

        # ---- paging, errors, delete ---------------------------------------------------
        for i in range(3):
            t.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "page%d" % i})
        for q in ("startIndex=1&count=2", "startIndex=3&count=2", "startIndex=100&count=2",
                  "count=0", "startIndex=0&count=1", "count=abc"):
            st, ans, _ = self.call("list " + q, "GET", "/Users?" + q, show=False)
            if isinstance(ans, dict) and "Resources" in ans:
                print("  = totalResults=%s startIndex=%s itemsPerPage=%s n=%d" % (
                    ans.get("totalResults"), ans.get("startIndex"), ans.get("itemsPerPage"),
                    len(ans.get("Resources") or [])))
            else:
                print("  < " + short(ans))
        self.call("GET an unknown id", "GET", "/Users/00000000-0000-0000-0000-000000000000")
        self.call("PATCH an unknown id", "PATCH", "/Users/00000000-0000-0000-0000-000000000000",
                  {"schemas": [PATCHOP], "Operations": [
                      {"op": "replace", "path": "title", "value": "x"}]})
        self.call("no token", "GET", "/Users", token="")
        self.call("wrong token", "GET", "/Users", token="wrong")
        self.call("token with scheme word 'bearer' in lower case", "GET", "/Users?count=1",
                  headers={"Authorization": "bearer " + t.token}, show=False)
        self.call("malformed JSON", "POST", "/Users", raw="{not json")
        self.call("Content-Type text/plain", "POST", "/Users",
                  raw=json.dumps(seed_user("ctype", 5)), headers={"Content-Type": "text/plain"})
        self.call("PATCH without the PatchOp schema", "PATCH", "/Users/%s" % (pid or "x"),
                  {"Operations": [{"op": "replace", "path": "title", "value": "x"}]})
        if pid:
            self.call("DELETE", "DELETE", "/Users/" + pid)
            self.call("GET after DELETE", "GET", "/Users/" + pid)
            self.call("DELETE again", "DELETE", "/Users/" + pid)

    def patch_if_match(self, uid, tag):
        self.call("PATCH with a wrong If-Match", "PATCH", "/Users/" + uid,
                  {"schemas": [PATCHOP], "Operations": [
                      {"op": "replace", "path": "title", "value": "etag"}]},
                  headers={"If-Match": tag}, show=False)


SERVERS = {
    "scimitar": lambda: ScimitarTarget(token="probe-token"),
    "scimmy": lambda: ScimmyServer(),
    "scimmy-core": lambda: ScimmyServer(core_only=True),
    "better-auth": lambda: BetterAuthServer(),
    "fake": lambda: FilterIgnoringTarget(),
}


def main(names):
    for n in names or list(SERVERS):
        with SERVERS[n]() as tgt:
            Probe(tgt).run()


if __name__ == "__main__":
    main(sys.argv[1:])
