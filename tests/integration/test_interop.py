"""The interoperability matrix: the seed's scenario provisioned by the real `scimitar
serve` into independent SCIM 2.0 servers, with the same test body for each target:

    ScimitarTargetMatrix   `scimitar target` (strict, full RFC 7643 schema)
    ScimmyMatrix           SCIMMY 1.3.5 + scimmy-routers on Express (tests/interop)
    BetterAuthMatrix       Better Auth 1.7.5 + @better-auth/scim (tests/interop)
    FilterIgnoringTest     a target that ignores `filter` (fake_targets.py)

These tests describe the behaviour we want from the engine, not what it does today:
several fail on the current engine (docs/interop.md says which, against which target,
with the requests and the target's answers). They are committed as they are, not
marked as expected failures, so they turn green as the engine learns each target.

Each test configures scimitar through its REST API as the seed does (connection with the
seed's defaults, a rule with a population filter and the seed's fourteen-row mapping,
both enabled), puts a RecordingProxy between scimitar and the target so every request
and answer can be checked, and after each step waits until the target holds exactly the
expected accounts and the engine has gone quiet (no request for QUIET seconds, nothing
pending), failing as soon as the engine is quiet with the target still different.
Reads of the target go to the server directly, listing every account (never through its
filter, which differs between servers).

What a target cannot hold is part of its profile: Better Auth's User schema has no
`nickName`, so against it the seed's `nickName` row cannot arrive and the users we want
are PARTIALLY_SYNCED, naming nickName, with everything else current.

Needs tests/interop/node_modules (`scripts/install-deps.sh --test`).
"""
import json
import time
import unittest
import urllib.parse

from fake_targets import FilterIgnoringTarget
from harness import Serve
from interop import (USER_SCHEMA, BetterAuthServer, RecordingProxy, ScimitarTarget,
                     ScimmyServer)
from seedflow import SEED_MAPPING, Flow, pop_filter

POP = "Interop Users"
OTHER = "Elsewhere"
WAIT = 60.0   # the longest a step may take on a loaded 2-core machine (ASan included)
QUIET = 1.0   # seconds without a request after which the engine counts as quiet
GIVE_UP = 10.0  # a step that sent nothing at all this long, quiet and different, failed

# What the seed's mapping puts where: view key -> how to read it from a SCIM User.
VIEW = ["userName", "givenName", "familyName", "formattedName", "workPhone", "workEmail",
        "externalId", "workCity", "workStreetAddress", "workCountry", "workPostalCode",
        "userType", "title", "nickName", "active"]


def person_view(p, active=True):
    """What the target should hold for the directory user body p (Flow.person)."""
    a = p["address"]
    return {"userName": p["username"], "givenName": p["name"]["given"],
            "familyName": p["name"]["family"], "formattedName": p["name"]["formatted"],
            "workPhone": p["primaryPhone"], "workEmail": p["email"],
            "externalId": p["externalId"], "workCity": a["locality"],
            "workStreetAddress": a["streetAddress"], "workCountry": a["countryCode"],
            "workPostalCode": a["postalCode"], "userType": p["type"], "title": p["title"],
            "nickName": p["nickname"], "active": active}


def resource_view(r):
    """The same keys read from a SCIM User resource."""
    def work(attr, sub="value"):
        hits = [e for e in r.get(attr) or [] if str(e.get("type", "")).lower() == "work"]
        return hits[0].get(sub) if len(hits) == 1 else (
            None if not hits else "%d work entries" % len(hits))
    name = r.get("name") or {}
    return {"userName": r.get("userName"), "givenName": name.get("givenName"),
            "familyName": name.get("familyName"), "formattedName": name.get("formatted"),
            "workPhone": work("phoneNumbers"), "workEmail": work("emails"),
            "externalId": r.get("externalId"), "workCity": work("addresses", "locality"),
            "workStreetAddress": work("addresses", "streetAddress"),
            "workCountry": work("addresses", "country"),
            "workPostalCode": work("addresses", "postalCode"), "userType": r.get("userType"),
            "title": r.get("title"), "nickName": r.get("nickName"), "active": r.get("active")}


def short(v, limit=600):
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[:limit] + "..."


class Profile:
    """What a target is and what it cannot hold.

    lacks        seed mapping targets the target's schema does not declare
    pre_email    the target refuses an account without an email (pre-existing accounts
                 are created with an old work email)
    missing      for the lacking-attribute test: (extra mapping row or None, the
                 attribute named in the error, the directory field feeding it, server
                 options), or None when the target declares everything scimitar can map
    """

    def __init__(self, name, factory, lacks=(), pre_email=False, missing=None):
        self.name, self.factory, self.lacks = name, factory, set(lacks)
        self.pre_email, self.missing = pre_email, missing

    def view(self, v, lacks=None):
        return {k: x for k, x in v.items() if k not in (self.lacks if lacks is None else lacks)}


SCIMITAR = Profile("scimitar-target", lambda **kw: ScimitarTarget(token="interop-tgt-token"))
SCIMMY = Profile("scimmy", lambda **kw: ScimmyServer(**kw),
                 missing=({"target": "department", "source": "title"}, "department", "title",
                          {"core_only": True}))
BETTER_AUTH = Profile("better-auth", lambda **kw: BetterAuthServer(**kw), lacks=["nickName"],
                      pre_email=True, missing=(None, "nickName", "nickname", {}))


class _Matrix:
    """The seed scenario against self.profile's target; mixed into one TestCase per target."""

    profile = None

    # ---- set-up -------------------------------------------------------------------

    def start(self, **server_options):
        self.tgt = self.profile.factory(**server_options).start()
        self.addCleanup(self.tgt.__exit__, None, None, None)
        self.px = RecordingProxy(self.tgt).start()
        self.addCleanup(self.px.stop)
        self.srv = Serve().start()
        self.addCleanup(self.srv.__exit__, None, None, None)
        self.f = Flow(self.srv, self.px)
        self.f.population(POP)
        self.f.population(OTHER)
        self.people = {}
        self.lacks = set(self.profile.lacks)

    def add_people(self, *names, population=POP):
        for n in names:
            p = Flow.person(n, population)
            self.people[n] = {"body": p, "id": self.f.user(n, population), "active": True,
                              "in": population == POP}

    def change(self, name, **fields):
        """Changes a directory user (PATCH /api/v1/users/{id}) and its expected body."""
        person = self.people[name]
        self.f.patch_user(person["id"], fields)
        body = person["body"]
        for k, v in fields.items():
            if k == "enabled":
                person["active"] = v
            elif k == "population":
                person["in"] = v["name"] == POP
                body[k] = v
            elif isinstance(v, dict) and isinstance(body.get(k), dict):
                body[k] = dict(body[k], **v)
            else:
                body[k] = v

    def enable(self, mapping=None):
        self.mark = self.px.count()
        self.f.setup(user_filter=pop_filter(POP), mapping=mapping)

    # ---- expectations -------------------------------------------------------------

    def expected(self):
        """{lower userName: view} of the accounts the directory users should have."""
        out = {}
        for n, p in self.people.items():
            if p.get("ever_in") or p["in"]:
                p["ever_in"] = True
                active = p["active"] and p["in"]
                out[n.lower()] = self.profile.view(person_view(p["body"], active), self.lacks)
        return out

    def target_diff(self, extra=None):
        """None when the target holds exactly the expected accounts (plus `extra`, a
        {lower userName: resource} of accounts that must stay as they are), else what
        differs."""
        want = self.expected()
        got = {}
        dup = []
        for u in self.tgt.users():
            k = str(u.get("userName", "")).lower()
            if k in got:
                dup.append(k)
            got[k] = u
        diffs = ["duplicate accounts for %s" % d for d in dup]
        for k, v in want.items():
            if k not in got:
                diffs.append("%s: no account" % k)
                continue
            have = self.profile.view(resource_view(got[k]), self.lacks)
            bad = {a: (have.get(a), v[a]) for a in v if have.get(a) != v[a]}
            if bad:
                diffs.append("%s: %s" % (k, ", ".join("%s is %r, want %r" % (a, g, w)
                                                      for a, (g, w) in bad.items())))
        for k, r in (extra or {}).items():
            now = {a: b for a, b in (got.get(k) or {}).items() if a != "meta"}
            was = {a: b for a, b in r.items() if a != "meta"}
            if now != was:
                diffs.append("%s (not a directory user) changed: %s -> %s" % (
                    k, short(was, 300), short(now, 300)))
        for k in got:
            if k not in want and k not in (extra or {}):
                diffs.append("%s: an account nobody asked for" % k)
        return "; ".join(diffs) if diffs else None

    def engine_idle(self):
        if self.px.quiet_for() < QUIET:
            return False
        st = self.f.status()
        if st.get("pending"):
            return False
        return not any(u["state"] == "PENDING" for u in self.f.rule_users())

    def evidence(self, since=0):
        """The requests since `since` that failed, with the answers, and the rule's users."""
        lines = []
        for r in self.px.requests()[since:]:
            if r["status"] >= 400:
                lines.append("  %s %s %s\n    > %s\n    < %s" % (
                    r["method"], urllib.parse.unquote(r["path"]), r["status"],
                    short(r["body"]), short(r["answer"])))
        users = ["  %s: %s %s" % (u["username"], u["state"], u.get("lastError") or "")
                 for u in self.f.rule_users()]
        return ("failed requests:\n" + "\n".join(lines[:12]) if lines else
                "no failed request") + "\nrule users:\n" + "\n".join(users)

    def settle(self, what, extra=None, timeout=WAIT):
        """Waits until the target holds exactly what is expected and the engine is quiet.
        Records a problem (and returns) when the engine went quiet after sending
        something with the target still different, or at the timeout."""
        since = self.mark
        start = time.monotonic()
        diff = "not checked"
        while time.monotonic() < start + timeout:
            seen = self.px.count()
            diff = self.target_diff(extra)
            idle = self.engine_idle()
            if self.px.count() != seen:  # a request went through meanwhile: look again
                continue
            if idle and diff is None:
                return True
            if idle and (seen > since or time.monotonic() > start + GIVE_UP):
                # Quiet, and either the change went out or nothing was sent for a long
                # while, with the target still different: the engine is done with it.
                break
            time.sleep(0.2)
        self.problems.append("%s: the target differs: %s\n%s" % (what, diff, self.evidence(since)))
        return False

    def check_states(self, what, want):
        """want: {username: state}; PARTIALLY_SYNCED also needs every lacked attribute
        named in lastError."""
        got = {u["username"]: u for u in self.f.rule_users()}
        for n, state in want.items():
            u = got.get(n)
            if u is None:
                self.problems.append("%s: %s has no state" % (what, n))
                continue
            err = (u.get("lastError") or "").lower()
            if u["state"] != state:
                self.problems.append("%s: %s is %s (%s), want %s" % (
                    what, n, u["state"], u.get("lastError"), state))
            elif state == "PARTIALLY_SYNCED":
                for a in self.lacks:
                    if a.lower() not in err:
                        self.problems.append("%s: %s is PARTIALLY_SYNCED but its lastError "
                                             "%r does not name %s" % (what, n, err, a))

    def synced(self):
        return "PARTIALLY_SYNCED" if self.lacks else "SYNCED"

    def requests_since(self, since, method=None):
        return [r for r in self.px.requests()[since:] if method in (None, r["method"])]

    def setUp(self):
        self.problems = []

    def done(self):
        if self.problems:
            self.fail("%s against %s:\n%s" % (self.id().split(".")[-1], self.profile.name,
                                               "\n\n".join(self.problems)))

    def step(self):
        self.mark = self.px.count()

    # ---- the scenario ---------------------------------------------------------------

    def test_a_create(self):
        """Users in scope arrive with every mapped value; the others do not."""
        self.start()
        self.add_people("ada", "grace", "linus")
        self.add_people("outsider", population=OTHER)
        self.enable()
        self.settle("create")
        self.check_states("create", {n: self.synced() for n in ("ada", "grace", "linus")})
        posts = self.requests_since(0, "POST")
        if len(posts) != 3:
            self.problems.append("create: %d POSTs, want 3" % len(posts))
        self.done()

    def test_b_preexisting_accounts_missing_entries(self):
        """Active accounts that already exist with only userName and name (and an old work
        email where the target requires one) are linked, not duplicated, and end up with the
        directory's phone, email and address."""
        self.start()
        pre = {}
        for n in ("ada", "grace"):
            body = {"schemas": [USER_SCHEMA], "userName": n, "active": True,
                    "name": {"givenName": "Old", "familyName": n.title()}}
            if self.profile.pre_email:
                body["emails"] = [{"type": "work", "value": "old-%s@example.com" % n}]
            pre[n] = self.tgt.create_user(body)["id"]
        self.add_people("ada", "grace")
        self.enable()
        self.settle("link pre-existing accounts")
        for n, rid in pre.items():
            u = self.tgt.user_named(n)
            if u and u["id"] != rid:
                self.problems.append("%s: linked account %s is not the pre-existing %s" % (
                    n, u["id"], rid))
        self.check_states("link", {"ada": self.synced(), "grace": self.synced()})
        if self.requests_since(0, "POST"):
            self.problems.append("a POST was sent although both accounts existed")
        self.done()

    def test_b_preexisting_account_in_another_case(self):
        """An account whose userName differs from the directory's only in case is the
        same account (userName is caseExact false): it is linked, not duplicated."""
        self.start()
        body = {"schemas": [USER_SCHEMA], "userName": "Ada", "active": True,
                "name": {"givenName": "Old", "familyName": "Ada"}}
        if self.profile.pre_email:
            body["emails"] = [{"type": "work", "value": "old-ada@example.com"}]
        rid = self.tgt.create_user(body)["id"]
        self.add_people("ada")
        self.enable()
        self.settle("link an account named in another case")
        u = self.tgt.user_named("ada")
        if u and u["id"] != rid:
            self.problems.append("ada: linked account %s is not the pre-existing %s" % (
                u["id"], rid))
        self.check_states("link", {"ada": self.synced()})
        self.done()

    def test_c_update(self):
        """A title, phone and city change arrive by PATCH; so does clearing the phone."""
        self.start()
        self.add_people("ada", "grace")
        self.enable()
        self.settle("create")
        self.step()
        self.change("ada", title="Chief Engineer", primaryPhone="+1 555 7777",
                    address=dict(self.people["ada"]["body"]["address"], locality="Shelbyville"))
        self.settle("update")
        self.check_states("update", {"ada": self.synced(), "grace": self.synced()})
        self.step()
        self.change("grace", primaryPhone=None)
        self.settle("clear the phone")
        self.check_states("clear the phone", {"grace": self.synced()})
        sent = self.requests_since(self.mark)
        if any(r["method"] in ("POST", "PUT", "DELETE") for r in sent):
            self.problems.append("update: sent %s" % [r["method"] for r in sent])
        self.done()

    def test_d_disable(self):
        """A user disabled in the directory is disabled on the target, never deleted."""
        self.start()
        self.add_people("ada", "grace")
        self.enable()
        self.settle("create")
        self.step()
        self.change("ada", enabled=False)
        self.settle("disable")
        self.check_states("disable", {"ada": "DISABLED", "grace": self.synced()})
        if self.requests_since(0, "DELETE"):
            self.problems.append("disable: a DELETE was sent")
        self.done()

    def test_e_scope_exit_and_reentry(self):
        """Moving to another population disables the account; moving back enables the
        same account again (no second POST)."""
        self.start()
        self.add_people("ada", "grace")
        self.enable()
        self.settle("create")
        first = self.tgt.user_named("ada")
        self.step()
        self.change("ada", population={"name": OTHER})
        self.settle("leave scope")
        self.check_states("leave scope", {"ada": "DISABLED"})
        self.step()
        self.change("ada", population={"name": POP})
        self.settle("come back")
        self.check_states("come back", {"ada": self.synced()})
        back = self.tgt.user_named("ada")
        if first and back and back["id"] != first["id"]:
            self.problems.append("come back: a new account %s instead of %s" % (
                back["id"], first["id"]))
        posts = self.requests_since(0, "POST")
        if len(posts) != 2 or self.requests_since(0, "DELETE"):
            self.problems.append("scope: %d POSTs (want 2) and %d DELETEs (want 0)" % (
                len(posts), len(self.requests_since(0, "DELETE"))))
        self.done()

    def test_f_attribute_the_target_lacks(self):
        """A mapped attribute the target's schema does not declare: every user ends
        PARTIALLY_SYNCED naming it, and everything else still arrives, on create and on
        a later update that changes that attribute together with the title."""
        if not self.profile.missing:
            self.skipTest("%s declares every attribute a mapping can name" % self.profile.name)
        row, attr, source, options = self.profile.missing
        self.start(**options)
        self.lacks = set(self.profile.lacks) | {attr}
        mapping = list(SEED_MAPPING) + ([row] if row else [])
        self.add_people("ada", "grace")
        self.enable(mapping)
        self.settle("create with %s mapped" % attr)
        self.check_states("create", {"ada": "PARTIALLY_SYNCED", "grace": "PARTIALLY_SYNCED"})
        self.step()
        fields = {"title": "Chief Engineer"}
        if source != "title":
            fields[source] = "changed-" + source
        self.change("ada", **fields)
        self.settle("update title and %s" % attr)
        self.check_states("update", {"ada": "PARTIALLY_SYNCED"})
        self.done()

    def test_g_unmapped_row_is_left_alone(self):
        """Removing the title row from the mapping sends no `remove` of title: the target
        keeps the title it has, and later changes do not touch it."""
        self.start()
        self.add_people("ada", "grace")
        self.enable()
        self.settle("create")
        self.step()
        rows = [r for r in SEED_MAPPING if r["target"] != "title"]
        self.f.ok("PUT", "/api/v1/rules/%s/mappings" % self.f.rule, rows)
        # The mapping change starts a full resync (which may send nothing); the engine
        # reads changes in order, so the phone change below lands after it.
        self.change("ada", primaryPhone="+1 555 6666")
        self.settle("a change after unmapping title")
        for r in self.requests_since(self.mark):
            for op in (r["body"] or {}).get("Operations", []) if isinstance(r["body"], dict) \
                    else []:
                if str(op.get("op", "")).lower() == "remove" and \
                        str(op.get("path", "")).lower() == "title":
                    self.problems.append("unmapped title: %s %s sent remove title -> %s" % (
                        r["method"], r["path"], r["status"]))
        self.check_states("after unmapping", {"ada": self.synced(), "grace": self.synced()})
        self.done()


class ScimitarTargetMatrix(_Matrix, unittest.TestCase):
    profile = SCIMITAR


class ScimmyMatrix(_Matrix, unittest.TestCase):
    profile = SCIMMY


class BetterAuthMatrix(_Matrix, unittest.TestCase):
    profile = BETTER_AUTH


class FilterIgnoringTest(_Matrix, unittest.TestCase):
    """(h) A target that ignores `filter` answers every look-up with its first users:
    the engine must never link such a stranger, must create the accounts it needs, and
    must not duplicate any."""

    profile = Profile("filter-ignoring", lambda **kw: FilterIgnoringTarget())

    def test_h_strangers_are_never_linked(self):
        self.start()
        strangers = {}
        for n in ("stranger1", "stranger2"):
            strangers[n] = self.tgt.create_user({"userName": n, "title": "Not yours",
                                                 "active": True})
        self.add_people("ada", "grace", "linus")
        self.enable()
        self.settle("create beside strangers", extra=strangers)
        ids = {s["id"] for s in strangers.values()}
        linked = {u["username"]: u.get("targetId") for u in self.f.rule_users()}
        for n, tid in linked.items():
            if tid in ids:
                self.problems.append("%s linked to a stranger's account %s" % (n, tid))
        self.check_states("create", {n: "SYNCED" for n in ("ada", "grace", "linus")})
        self.step()
        self.change("grace", title="Chief Engineer")
        self.settle("update beside strangers", extra=strangers)
        self.step()
        self.f.resync()
        self.settle("full resync beside strangers", extra=strangers)
        self.done()

    # The matrix steps do not apply to this target: it differs only in its filter.
    test_a_create = test_b_preexisting_accounts_missing_entries = test_c_update = None
    test_b_preexisting_account_in_another_case = None
    test_d_disable = test_e_scope_exit_and_reentry = None
    test_f_attribute_the_target_lacks = test_g_unmapped_row_is_left_alone = None


if __name__ == "__main__":
    unittest.main()
