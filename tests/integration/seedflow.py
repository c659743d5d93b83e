"""Helpers for the provisioning tests: the seed's flow (population and users in the
directory, the Code42-style connection against a `scimitar target`, a rule with a
population filter and the seed's mapping, both enabled) through the REST API, and the
checks the tests make on the target (its users, its request counts from _stats) and on
the rule (status, per-user state, log).

    with Target(token="t", no_delete=True) as tgt, Serve() as srv:
        f = Flow(srv, tgt)
        f.population("Code42 Users")
        f.import_users([f.person("ada", "Code42 Users")])
        f.setup(population="Code42 Users")
        f.wait_target_count(1)
"""
import json
import re
import time
import urllib.parse
import zlib

from harness import wait_until

# The seed's attribute mapping: both tables, fourteen rows (target <- directory field).
SEED_MAPPING = [
    {"target": "userName", "source": "username"},
    {"target": "givenName", "source": "name.given"},
    {"target": "familyName", "source": "name.family"},
    {"target": "workPhone", "source": "primaryPhone"},
    {"target": "workEmail", "source": "email"},
    {"target": "externalId", "source": "externalId"},
    {"target": "workCity", "source": "address.locality"},
    {"target": "workStreetAddeess", "source": "address.streetAddress"},
    {"target": "workCountry", "source": "address.countryCode"},
    {"target": "workPostalCode", "source": "address.postalCode"},
    {"target": "userType", "source": "type"},
    {"target": "title", "source": "title"},
    {"target": "nickName", "source": "nickname"},
    {"target": "formattedName", "source": "name.formatted"},
]

# Generous: CI runs the suite under ASan on a shared 2-core machine.
WAIT = 90.0
WAIT_LONG = 300.0


def pop_filter(*names):
    """A rule filter: users of any of the named populations."""
    return {"match": "ANY", "conditions": [
        {"attribute": "population.name", "operator": "EQUALS", "value": n} for n in names]}


def group_filter(name):
    """A rule filter: members (direct, dynamic or inherited) of the named group."""
    return {"match": "ALL", "conditions": [
        {"attribute": "group", "operator": "EQUALS", "value": name}]}


def work(values, key="value"):
    """The value of the work-typed entry of a SCIM multi-valued attribute, or None."""
    for v in values or []:
        if v.get("type") == "work":
            return v.get(key)
    return None


class Flow:
    """The seed's configuration steps and the checks, against one Serve and one Target."""

    def __init__(self, srv, tgt):
        self.srv = srv
        self.tgt = tgt
        self.pops = {}
        self.conn = None
        self.rule = None

    # ---- REST helpers ------------------------------------------------------------

    def ok(self, method, path, body=None, expect=(200, 201, 202, 204)):
        st, data, _ = self.srv.api(method, path, body)
        if st not in expect:
            raise AssertionError("%s %s -> %s %r" % (method, path, st, data))
        return data

    # ---- directory ---------------------------------------------------------------

    def population(self, name):
        if name not in self.pops:
            self.pops[name] = self.ok("POST", "/api/v1/populations",
                                      {"name": name, "description": "test population"})["id"]
        return self.pops[name]

    @staticmethod
    def person(username, population, **extra):
        """A full user body of the shape the API takes (every mapped field set)."""
        n = zlib.crc32(username.encode()) % 10000
        u = {"username": username,
             "name": {"given": "Given" + str(n), "family": "Family" + str(n),
                      "formatted": "Given%d Family%d" % (n, n)},
             "nickname": "nick%d" % n, "title": "Engineer", "type": "Employee",
             "email": "u%d@example.com" % n, "primaryPhone": "+1 555 %04d" % n,
             "externalId": "E%d" % n,
             "address": {"streetAddress": "%d Main St" % n, "locality": "Springfield",
                         "region": "IL", "postalCode": "62701", "countryCode": "US"},
             "population": {"name": population}}
        u.update(extra)
        return u

    def user(self, username, population, **extra):
        """Creates one user; returns its id."""
        self.population(population)
        return self.ok("POST", "/api/v1/users", self.person(username, population, **extra))["id"]

    def import_users(self, users, chunk=5000):
        """Bulk-loads user bodies through POST /users/import."""
        for i in range(0, len(users), chunk):
            self.ok("POST", "/api/v1/users/import", users[i:i + chunk])

    def user_id(self, username):
        q = urllib.parse.quote('username eq "%s"' % username.replace("\\", "\\\\")
                               .replace('"', '\\"'))
        items = self.ok("GET", "/api/v1/users?filter=" + q)["items"]
        assert len(items) == 1, (username, items)
        return items[0]["id"]

    def patch_user(self, uid, body):
        return self.ok("PATCH", "/api/v1/users/" + uid, body)

    def group(self, name, user_filter=None):
        body = {"name": name, "description": "test group"}
        if user_filter is not None:
            body["userFilter"] = user_filter
        return self.ok("POST", "/api/v1/groups", body)["id"]

    def add_member(self, gid, user_id=None, group_id=None):
        body = {"userId": user_id} if user_id else {"groupId": group_id}
        return self.ok("POST", "/api/v1/groups/%s/members" % gid, body)

    def remove_member(self, gid, member_id):
        return self.ok("DELETE", "/api/v1/groups/%s/members/%s" % (gid, member_id))

    # ---- provisioning configuration -----------------------------------------------

    def connection_body(self, **over):
        """The seed's connection values against this test's target."""
        body = {"name": "Code42", "description": "Code42 SCIM provider",
                "type": "SCIM_OUTBOUND",
                "scim": {"baseUrl": self.tgt.scim_base, "usersResource": "/Users",
                         "version": "2.0"},
                "auth": {"method": "OAUTH2_BEARER", "accessToken": self.tgt.token,
                         "typeHeader": "Bearer"},
                "preferences": {"userFilterExpression": 'username Eq "%s"',
                                "userIdentifier": "userName", "removeAction": "DISABLE"}}
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(body.get(k), dict):
                body[k] = dict(body[k], **v)
            else:
                body[k] = v
        return body

    def connection(self, **over):
        self.conn = self.ok("POST", "/api/v1/connections", self.connection_body(**over))["id"]
        return self.conn

    def patch_connection(self, body):
        return self.ok("PATCH", "/api/v1/connections/" + self.conn, body)

    def new_rule(self, user_filter, mapping=None, name="Code42 rule"):
        self.rule = self.ok("POST", "/api/v1/rules", {
            "name": name, "description": "provision to Code42", "target": self.conn})["id"]
        self.ok("PUT", "/api/v1/rules/%s/filter" % self.rule, user_filter)
        self.ok("PUT", "/api/v1/rules/%s/mappings" % self.rule,
                SEED_MAPPING if mapping is None else mapping)
        return self.rule

    def enable(self):
        self.ok("PATCH", "/api/v1/connections/" + self.conn, {"enabled": True})
        self.ok("PATCH", "/api/v1/rules/" + self.rule, {"enabled": True})

    def setup(self, population=None, user_filter=None, mapping=None, enable=True, **conn):
        """Connection (seed values, overridable), rule, filter, mapping; enables both.
        The rule is enabled once the engine has handled every change event written so
        far, so users made before it are its first resync's alone (an event of theirs
        handled after the rule is active would start a second job beside the resync's,
        and exact request counts would depend on timing)."""
        self.connection(**conn)
        self.new_rule(user_filter or pop_filter(population), mapping)
        if enable:
            self.wait_events_handled()
            self.enable()
        return self.rule

    def first_resync_only(self, population, names, **setup):
        """Imports users named names into population, then configures the rule (setup:
        connection fields) and enables it once the engine has handled the import's
        events: the rule's first resync (the initial sync) alone works on them."""
        self.population(population)
        self.import_users([self.person(n, population) for n in names])
        self.setup(population=population, **setup)

    def wait_events_handled(self, timeout=WAIT):
        """Waits until the engine has handled every change event written so far (its
        cursor in the database has reached the newest event). Users imported before a
        rule is enabled are then the rule's first resync's alone: no user event of
        theirs is handled after the rule is active and starts a job beside the resync."""
        top = self.srv.sql("SELECT COALESCE(MAX(seq), 0) FROM change_events")[0][0]

        def handled():
            rows = self.srv.sql("SELECT value FROM settings WHERE key = 'sync.cursor'")
            return bool(rows) and int(rows[0][0]) >= top
        wait_until(handled, timeout=timeout, what="the engine to handle event %d" % top)

    def resync(self, query=""):
        st, data, _ = self.srv.api("POST", "/api/v1/rules/%s/resync%s" % (self.rule, query))
        assert st in (200, 202), (st, data)
        return data

    def resyncs_total(self):
        """How many full resyncs the engine has finished (scimitar_sync_resyncs_total in
        /metrics; it moves when a resync's work is queued, after its transaction)."""
        st, text, _ = self.srv.api("GET", "/metrics")
        assert st == 200, (st, text)
        return int(re.search(r"^scimitar_sync_resyncs_total (\d+)$", text, re.M).group(1))

    def wait_resynced(self, before, timeout=WAIT):
        """Waits until a full resync has finished since resyncs_total() was `before` and
        the rule's outbox is empty: what that resync queued has been delivered."""
        box = {}

        def done():
            # the counter first: a pending count read after it has moved is read after
            # the resync's transaction, so it includes what the resync queued
            if self.resyncs_total() <= before:
                return False
            box["s"] = self.status()
            return box["s"]["pending"] == 0
        wait_until(done, timeout=timeout, interval=0.2, what="a full resync run and delivered")
        return box["s"]

    def resync_and_wait(self, query="", timeout=WAIT):
        """Requests a full resync and waits until it has run and its work is delivered.
        The rule's earlier resyncs must be over (e.g. its users synced)."""
        before = self.resyncs_total()
        data = self.resync(query)
        self.wait_resynced(before, timeout)
        return data

    def status(self):
        return self.ok("GET", "/api/v1/rules/%s/status" % self.rule)

    def rule_users(self):
        out, cursor = [], None
        while True:
            path = "/api/v1/rules/%s/users?limit=1000" % self.rule
            if cursor:
                path += "&cursor=" + urllib.parse.quote(cursor)
            page = self.ok("GET", path)
            out += page["items"]
            cursor = page.get("nextCursor")
            if not cursor:
                return out

    def logs(self, **q):
        q.setdefault("rule", self.rule)
        q.setdefault("limit", 1000)
        return self.ok("GET", "/api/v1/logs?" + urllib.parse.urlencode(q))["items"]

    # ---- the target ------------------------------------------------------------

    def read(self, path):
        """GET on the target's SCIM API, retried through injected faults (--faults)."""
        for _ in range(200):
            st, body, _ = self.tgt.scim("GET", path)
            if st == 200:
                return body
            if st not in (429, 500, 502, 503, 504):
                break
            time.sleep(0.02)
        raise AssertionError("GET %s -> %s %r" % (path, st, body))

    def target_users(self):
        """{lower-cased userName: resource} of every user on the target (all pages)."""
        out, start = {}, 1
        while True:
            body = self.read("/Users?startIndex=%d&count=200" % start)
            res = body.get("Resources", [])
            for u in res:
                out[u["userName"].lower()] = u
            start += len(res)
            if not res or start > body["totalResults"]:
                return out

    def target_user(self, username):
        esc = username.replace("\\", "\\\\").replace('"', '\\"')
        body = self.read("/Users?filter=" + urllib.parse.quote('userName eq "%s"' % esc))
        res = body.get("Resources", [])
        assert len(res) <= 1, res
        return res[0] if res else None

    def target_count(self):
        return self.read("/Users?count=0")["totalResults"]

    def stats(self):
        """{METHOD: count} of the requests the target has served on its SCIM API (its
        _stats endpoint does not count itself)."""
        counts = self.read("/_stats").get("requests", {})
        return {k.upper(): int(v) for k, v in counts.items()}

    def writes(self):
        """How many POST/PUT/PATCH/DELETE calls the target has served so far."""
        s = self.stats()
        return sum(s.get(m, 0) for m in ("POST", "PUT", "PATCH", "DELETE"))

    # ---- waiting ----------------------------------------------------------------

    def wait_target_count(self, n, timeout=WAIT):
        return wait_until(lambda: self.target_count() == n, timeout=timeout, interval=0.2,
                          what="the target to hold %d users (has %s)" % (n, self.target_count()))

    def wait_target(self, username, pred, timeout=WAIT, what=None):
        """Waits until the target's user passes pred (None when absent); returns it."""
        box = {}

        def check():
            box["u"] = self.target_user(username)
            return pred(box["u"])
        wait_until(check, timeout=timeout, interval=0.1,
                   what=what or "target user %r to change" % username)
        return box["u"]

    def wait_status(self, pred, timeout=WAIT, what="rule status"):
        box = {}

        def check():
            box["s"] = self.status()
            return pred(box["s"])
        try:
            wait_until(check, timeout=timeout, interval=0.2, what=what)
        except AssertionError:
            raise AssertionError("%s; last status %s" % (what, json.dumps(box.get("s"))))
        return box["s"]


def started(test, proc):
    """Starts proc (a harness Process) and registers its stop with test's cleanups."""
    proc.start()
    test.addCleanup(proc.__exit__, None, None, None)
    return proc
