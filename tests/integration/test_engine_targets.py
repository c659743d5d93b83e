"""The engine against targets that behave as real ones do (tests/integration/scimfake.py):
accounts that exist before provisioning and miss multi-valued entries, a schema without
an attribute, a target that ignores look-up filters, errors cut in the middle of a
character, creates that keep conflicting. Each ends in an exact state checked on the
target and through the API."""
import socket
import threading
import time
import unittest
import urllib.parse

from harness import Serve, wait_until
from scimfake import FakeTarget, USER
from seedflow import Flow, WAIT, SEED_MAPPING, pop_filter, work


def seed_user(f, name, pop="Code42 Users", **extra):
    return f.user(name, pop, **extra)


def states(f):
    return {u["username"]: u for u in f.rule_users()}


def synced(f, n, state="SYNCED"):
    us = states(f)
    return len(us) == n and all(u["state"] == state for u in us.values())


class PreExistingAccounts(unittest.TestCase):
    def test_linked_account_missing_entries_is_brought_up_to_date_on_a_strict_target(self):
        # The account exists with only a userName and a name: no phone, email or address.
        with FakeTarget(strict_paths=True) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            tgt.add_user({"schemas": [USER], "userName": "ada",
                          "name": {"givenName": "Old", "familyName": "Name"}})
            seed_user(f, "ada")
            f.setup(population="Code42 Users")
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            acct = tgt.by_name("ada")
            person = f.person("ada", "Code42 Users")
            self.assertEqual(acct["name"]["givenName"], person["name"]["given"])
            self.assertEqual(work(acct["phoneNumbers"]), person["primaryPhone"])
            self.assertEqual(work(acct["emails"]), person["email"])
            self.assertEqual(work(acct["addresses"], "locality"), "Springfield")
            self.assertEqual(work(acct["addresses"], "streetAddress"),
                             person["address"]["streetAddress"])
            self.assertEqual(acct["nickName"], person["nickname"])
            self.assertEqual(len(tgt.user_list()), 1)
            # one PATCH, the entries added whole (no value-filter path on a missing entry)
            patches = tgt.calls("PATCH")
            self.assertEqual(len(patches), 1)
            paths = [op.get("path") for op in patches[0][2]["Operations"]]
            self.assertIn("phoneNumbers", paths)
            self.assertIn("emails", paths)
            self.assertIn("addresses", paths)
            self.assertFalse([p for p in paths if p and "[" in p], paths)
            # a later change of the city goes by a value-filter path (the entry exists now)
            f.patch_user(f.user_id("ada"), {"address": {"locality": "Shelbyville"}})
            wait_until(lambda: work(tgt.by_name("ada")["addresses"], "locality") ==
                       "Shelbyville", timeout=WAIT, what="the new city")
            self.assertEqual(work(tgt.by_name("ada")["addresses"], "streetAddress"),
                             person["address"]["streetAddress"])
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED again")


class AttributeIsolation(unittest.TestCase):
    def test_an_attribute_the_target_lacks_leaves_every_user_partially_synced(self):
        with FakeTarget(lacks={"nickName"}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            # two users pre-exist (linked, then PATCHed), two are created
            for n in ("ada", "bob"):
                tgt.add_user({"schemas": [USER], "userName": n})
            for n in ("ada", "bob", "cy", "dee"):
                seed_user(f, n)
            f.setup(population="Code42 Users")
            wait_until(lambda: synced(f, 4, "PARTIALLY_SYNCED"), timeout=WAIT,
                       what="every user PARTIALLY_SYNCED")
            for name, u in states(f).items():
                self.assertEqual([r["attribute"] for r in u["rejected"]], ["nickName"], u)
                self.assertIn("not defined", u["rejected"][0]["error"])
                self.assertEqual(u["rejected"][0]["httpStatus"], 400)
                self.assertIn("nickName", u["lastError"])
            for name in ("ada", "bob", "cy", "dee"):
                acct = tgt.by_name(name)
                person = f.person(name, "Code42 Users")
                self.assertEqual(acct.get("title"), "Engineer")
                self.assertEqual(work(acct["emails"]), person["email"])
                self.assertEqual(acct["name"]["familyName"], person["name"]["family"])
                self.assertNotIn("nickName", acct)
            self.assertEqual(f.status()["users"]["partiallySynced"], 4)
            # the rejection is not retried in a loop: a resync sends nothing
            before = len(tgt.requests)
            f.resync_and_wait()
            self.assertEqual(len(tgt.requests), before)
            # another change is delivered; the user stays partially synced
            f.patch_user(f.user_id("ada"), {"title": "Chief"})
            wait_until(lambda: tgt.by_name("ada").get("title") == "Chief", timeout=WAIT,
                       what="ada's new title")
            wait_until(lambda: states(f)["ada"]["state"] == "PARTIALLY_SYNCED", timeout=WAIT,
                       what="ada still partial")
            # the log names the rejected attribute and the target's words
            failed = [e for e in f.logs(status="FAILED") if e["username"] == "cy"]
            self.assertTrue(failed)
            self.assertEqual(failed[0]["httpStatus"], 400)
            self.assertIn("nickName", failed[0]["error"])

    def test_create_rejected_for_one_attribute_still_creates_the_account(self):
        def reject_post_with_title(path, body):
            if path.startswith("/scim/v2/Users") and isinstance(body, dict) and "title" in body:
                return 400, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                             "status": "400", "scimType": "invalidValue",
                             "detail": "title is not allowed"}, {}
            return None

        def reject_patch_title(path, body):
            ops = (body or {}).get("Operations", []) if isinstance(body, dict) else []
            if any((op.get("path") or "") == "title" for op in ops):
                return 400, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                             "status": "400", "scimType": "invalidValue",
                             "detail": "title is not allowed"}, {}
            return None

        with FakeTarget(hooks={"POST": reject_post_with_title,
                               "PATCH": reject_patch_title}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            seed_user(f, "ada")
            f.setup(population="Code42 Users")
            wait_until(lambda: synced(f, 1, "PARTIALLY_SYNCED"), timeout=WAIT,
                       what="ada PARTIALLY_SYNCED")
            acct = tgt.by_name("ada")
            self.assertNotIn("title", acct)
            self.assertEqual(acct["nickName"], f.person("ada", "Code42 Users")["nickname"])
            u = states(f)["ada"]
            self.assertEqual([r["attribute"] for r in u["rejected"]], ["title"])
            self.assertEqual(len(tgt.user_list()), 1)


class Unmapping(unittest.TestCase):
    def test_removing_a_row_stops_the_flow_and_clear_on_unmap_clears(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            for n in ("ada", "bob"):
                seed_user(f, n)
            mapping = [dict(r) for r in SEED_MAPPING]
            for r in mapping:
                if r["target"] == "nickName":
                    r["clearOnUnmap"] = True
            f.setup(population="Code42 Users", mapping=mapping)
            wait_until(lambda: synced(f, 2), timeout=WAIT, what="both SYNCED")
            patches_before = len(tgt.calls("PATCH"))
            # title unmapped: nothing is sent, the target keeps the title
            rows = [r for r in mapping if r["target"] != "title"]
            before = f.resyncs_total()
            f.ok("PUT", "/api/v1/rules/%s/mappings" % f.rule, rows)
            f.wait_resynced(before)
            wait_until(lambda: synced(f, 2), timeout=WAIT, what="both SYNCED")
            self.assertEqual(len(tgt.calls("PATCH")), patches_before)
            self.assertEqual(tgt.by_name("ada")["title"], "Engineer")
            # a title change no longer flows
            f.patch_user(f.user_id("ada"), {"title": "Chief", "name": {"given": "Ada2"}})
            wait_until(lambda: tgt.by_name("ada")["name"]["givenName"] == "Ada2",
                       timeout=WAIT, what="the new given name")
            self.assertEqual(tgt.by_name("ada")["title"], "Engineer")
            # nickName was marked clearOnUnmap: unmapping it removes it, once per user
            rows = [r for r in rows if r["target"] != "nickName"]
            f.ok("PUT", "/api/v1/rules/%s/mappings" % f.rule, rows)
            wait_until(lambda: all("nickName" not in u for u in tgt.user_list()),
                       timeout=WAIT, what="nickName cleared on the target")
            removes = [op for _, _, b in tgt.calls("PATCH") for op in b["Operations"]
                       if op["op"] == "remove"]
            self.assertEqual(sorted(op["path"] for op in removes), ["nickName", "nickName"])
            wait_until(lambda: synced(f, 2), timeout=WAIT, what="both SYNCED")
            n = len(tgt.requests)
            f.resync_and_wait()
            self.assertEqual(len(tgt.requests), n)


class StrictLookup(unittest.TestCase):
    def check(self, nusers, wait_events=True):
        with FakeTarget(ignore_filter=True) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            # strangers on the target, and one account that is ours (different case)
            for i in range(3):
                tgt.add_user({"schemas": [USER], "userName": "stranger%d" % i,
                              "title": "Keep"})
            tgt.add_user({"schemas": [USER], "userName": "USER0"})
            names = ["user%d" % i for i in range(nusers)]
            f.population("Code42 Users")
            f.import_users([f.person(n, "Code42 Users") for n in names])
            # the users' own events are handled before the rule is active: only the
            # rule's first resync works on them (one listing, or one search per user)
            f.setup(population="Code42 Users", enable=False)
            if wait_events:
                f.wait_events_handled()
            f.enable()
            wait_until(lambda: synced(f, nusers), timeout=WAIT, what="every user SYNCED")
            accts = tgt.user_list()
            self.assertEqual(len(accts), nusers + 3)  # user0 linked, the rest created
            for i in range(3):
                s = tgt.by_name("stranger%d" % i)
                self.assertEqual(s["title"], "Keep")  # no stranger touched
                self.assertEqual(set(s), {"schemas", "userName", "title", "id", "active",
                                          "meta"})
            self.assertEqual(sorted(a["userName"].lower() for a in accts),
                             sorted(["stranger0", "stranger1", "stranger2"] + names))
            linked = [e for e in f.logs(action="LINK")]
            self.assertEqual([e["username"] for e in linked], ["user0"])

    def test_users_whose_events_meet_the_rule_enabled_are_linked_once(self):
        # the import's events and the rule's activation handled in one batch: the
        # rule's first resync alone works on the users (no job per user racing it)
        for _ in range(3):
            self.check(60, wait_events=False)

    def test_few_users_are_searched_for_in_pages(self):
        self.check(5)

    def test_many_users_are_linked_from_one_listing(self):
        self.check(60)


class ErrorsThatExplain(unittest.TestCase):
    def test_a_create_that_keeps_conflicting_says_why(self):
        def conflict(path, body):
            if path.startswith("/scim/v2/Users"):
                return 409, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                             "status": "409", "scimType": "uniqueness",
                             "detail": "a user already uses this email"}, {}
            return None

        with FakeTarget(hooks={"POST": conflict}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            seed_user(f, "ada")
            f.setup(population="Code42 Users")
            wait_until(lambda: states(f).get("ada", {}).get("state") == "FAILED",
                       timeout=WAIT, what="ada FAILED")
            err = states(f)["ada"]["lastError"]
            self.assertIn("POST answered 409 1 time", err)
            self.assertIn("finds nothing, nor does a search of the target's accounts", err)
            self.assertIn("already uses this email", err)
            last = [e for e in f.logs(action="CREATE") if e["status"] == "FAILED"][0]
            self.assertEqual(last["httpStatus"], 409)
            self.assertIn("409 1 time", last["error"])
            # a look-up, one create, a look-up again, one page searched: no loop
            self.assertEqual(len(tgt.calls("POST")), 1)
            self.assertEqual(len(tgt.calls("GET", "filter=")), 2)
            self.assertEqual(len(tgt.calls("GET", "startIndex=")), 1)

    def test_credentials_a_target_echoes_are_masked_before_the_text_is_cut(self):
        token = "echoed-bearer-token-0123456789abcdef"
        seen = {}

        def echo(path, body):
            if path.startswith("/scim/v2/Users"):
                # the secret straddles the 600th byte of the kept text
                pad = "x" * (600 - len("POST answered 400 (invalidValue): ") - 22 - 10)
                return 400, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                             "status": "400", "scimType": "invalidValue",
                             "detail": pad + "Authorization: Bearer " + token}, {}
            return None

        with FakeTarget(token=token, hooks={"POST": echo}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.population("Code42 Users")
            f.user("ada", "Code42 Users")
            f.setup(population="Code42 Users", mapping=[
                {"target": "userName", "source": "username"}])
            wait_until(lambda: states(f).get("ada", {}).get("state") == "FAILED",
                       timeout=WAIT, what="ada FAILED")
            texts = [states(f)["ada"]["lastError"]] + [e["error"] or "" for e in f.logs()]
            for t in texts:
                for k in range(8, len(token) + 1):
                    self.assertNotIn(token[:k], t)
            self.assertTrue(any("Authorization: Bearer" in t for t in texts))

    def test_a_target_error_cut_inside_a_character_keeps_the_user_listed(self):
        detail = ("é" * 400).encode()[:601] + b"\xc3"  # a cut 2-byte sequence at the end

        def broken(path, body):
            if path.startswith("/scim/v2/Users"):
                return 400, b'{"status":"400","detail":"' + detail + b'"}', {}
            return None

        with FakeTarget(hooks={"POST": broken}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.population("Code42 Users")
            f.user("ada", "Code42 Users", nickname=None, title=None, type=None,
                   externalId=None, primaryPhone=None, email=None, address=None,
                   name={"given": "Ada", "family": "L"})
            f.setup(population="Code42 Users", mapping=[
                {"target": "userName", "source": "username"}])
            wait_until(lambda: states(f).get("ada", {}).get("state") == "FAILED",
                       timeout=WAIT, what="ada FAILED and listed")
            self.assertEqual(f.status()["users"]["failed"], 1)
            err = states(f)["ada"]["lastError"]
            err.encode("utf-8")  # valid text
            self.assertIn("POST answered 400", err)
            self.assertTrue([e for e in f.logs() if e["username"] == "ada" and
                             e["status"] == "FAILED"])
            self.assertTrue(tgt.calls("POST"))


class DriftRepair(unittest.TestCase):
    def provision(self, f, tgt, names):
        for n in names:
            seed_user(f, n)
        f.setup(population="Code42 Users")
        wait_until(lambda: synced(f, len(names)), timeout=WAIT, what="every user SYNCED")

    def test_verify_repairs_edited_and_deleted_accounts(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            self.provision(f, tgt, ["ada", "bob", "cy"])
            tgt.edit_user("ada", title="Hacked", nickName=None)
            tgt.delete_user("bob")
            # a plain resync trusts what was sent: nothing is sent
            n = len(tgt.requests)
            f.resync_and_wait()
            self.assertEqual(len(tgt.requests), n)
            # the dry run lists the drift and sends nothing but reads
            plan = f.ok("POST", "/api/v1/rules/%s/resync?dryRun=true&verify=true" % f.rule)
            self.assertEqual(plan["counts"]["drifted"], 2)
            self.assertEqual(plan["counts"]["checked"], 3)
            drift = {d["username"]: d for d in plan["drifted"]}
            self.assertTrue(drift["bob"]["gone"])
            changes = {c["attribute"]: c for c in drift["ada"]["changes"]}
            self.assertEqual(changes["title"]["old"], "Hacked")
            self.assertEqual(changes["title"]["new"], "Engineer")
            self.assertIn("nickName", changes)
            self.assertEqual([r[0] for r in tgt.requests[n:]], ["GET"])
            # the verifying resync repairs both
            self.assertEqual(f.ok("POST", "/api/v1/rules/%s/resync" % f.rule,
                                  {"verify": True})["verify"], True)
            wait_until(lambda: (tgt.by_name("ada") or {}).get("title") == "Engineer" and
                       tgt.by_name("bob") is not None, timeout=WAIT, what="drift repaired")
            ada = tgt.by_name("ada")
            self.assertEqual(ada["nickName"], f.person("ada", "Code42 Users")["nickname"])
            self.assertEqual(len(tgt.user_list()), 3)
            self.assertFalse(tgt.calls("DELETE"))
            wait_until(lambda: synced(f, 3), timeout=WAIT, what="every user SYNCED")
            v = wait_until(lambda: f.status().get("verify"), timeout=WAIT, what="figures")
            self.assertEqual((v["checked"], v["drifted"]), (3, 2))
            drifted = f.logs(action="VERIFY")
            self.assertEqual(sorted(e["username"] for e in drifted), ["ada", "bob"])
            self.assertTrue(all(e["status"] == "DRIFTED" for e in drifted))

    def test_verify_reads_accounts_one_by_one_when_the_target_cannot_list(self):
        def no_listing(path, body):
            if path.startswith("/scim/v2/Users?") and "filter=" not in path:
                return 403, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                             "status": "403", "detail": "listing is not allowed"}, {}
            return None

        with FakeTarget(hooks={"GET": no_listing}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            self.provision(f, tgt, ["ada", "bob"])
            tgt.edit_user("ada", title="Hacked")
            f.resync("?verify=true")
            wait_until(lambda: tgt.by_name("ada")["title"] == "Engineer", timeout=WAIT,
                       what="ada's title repaired")
            logged = wait_until(lambda: f.logs(action="VERIFY"), timeout=WAIT,
                                what="the drift in the log")
            self.assertEqual([e["username"] for e in logged], ["ada"])
            reads = [p for m, p, _ in tgt.requests if m == "GET" and "/Users/" in p]
            self.assertEqual(len(reads), 2)  # one GET per linked account


class BlackHole:
    """A TCP port that accepts connections and never answers (a dead token URL)."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False

        def accept():
            while not self.stopped:
                try:
                    c, _ = self.sock.accept()
                except OSError:
                    return
                self.conns.append(c)
        threading.Thread(target=accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()
        return False


class ConnectionIsolation(unittest.TestCase):
    def test_a_dead_token_url_does_not_delay_another_connection(self):
        with BlackHole() as hole, FakeTarget() as dead_tgt, FakeTarget() as tgt, \
                Serve() as srv:
            f = Flow(srv, tgt)
            seed_user(f, "bob")
            f.setup(population="Code42 Users")
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="bob SYNCED")
            # a second connection whose token URL never answers, with users to provision
            g = Flow(srv, dead_tgt)
            g.population("Dead Users")
            g.import_users([g.person("dead%d" % i, "Dead Users") for i in range(30)])
            g.connection(name="Dead", auth={
                "method": "OAUTH2_CLIENT_CREDENTIALS",
                "tokenUrl": "http://127.0.0.1:%d/token" % hole.port,
                "clientId": "c", "clientSecret": "s3cret-value", "accessToken": None})
            g.new_rule(pop_filter("Dead Users"), name="Dead rule")
            g.enable()
            wait_until(lambda: hole.conns, timeout=WAIT, what="the token request sent")
            # while that token request hangs, a change of bob arrives at once
            for title in ("T1", "T2", "T3"):
                t0 = time.monotonic()
                f.patch_user(f.user_id("bob"), {"title": title})
                wait_until(lambda: tgt.by_name("bob").get("title") == title, timeout=WAIT,
                           interval=0.01, what="bob's title " + title)
                self.assertLess(time.monotonic() - t0, 1.0)
            self.assertFalse(dead_tgt.requests)
            # the dead connection's users fail with the reason, without the secret
            wait_until(lambda: any("cannot get an OAuth token" in (u["lastError"] or "")
                                   for u in g.rule_users()),
                       timeout=WAIT, what="the token failure reported")
            for u in g.rule_users():
                self.assertNotIn("s3cret-value", u["lastError"] or "")
            # only one token request was made for all 30 users, not one each
            self.assertEqual(len(hole.conns), 1)


class PendingAndLeases(unittest.TestCase):
    def test_users_in_scope_are_listed_pending_before_their_first_answer(self):
        gate = threading.Event()

        def hold(path, body):
            gate.wait(60)
            return None

        with FakeTarget(hooks={"GET": hold}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.population("Other")
            seed_user(f, "ada")
            seed_user(f, "bob")
            seed_user(f, "zed", "Other")
            f.setup(population="Code42 Users")
            try:
                us = wait_until(lambda: states(f) if len(states(f)) == 2 else None,
                                timeout=WAIT, what="both users listed")
                self.assertEqual({u["state"] for u in us.values()}, {"PENDING"})
                self.assertNotIn("zed", us)
            finally:
                gate.set()
            wait_until(lambda: synced(f, 2), timeout=WAIT, what="both SYNCED")

    def test_a_lease_is_renewed_while_a_job_waits_for_the_rate_limit(self):
        with FakeTarget() as tgt, Serve(extra=["--lease-seconds", "1"]) as srv:
            f = Flow(srv, tgt)
            names = ["u%02d" % i for i in range(12)]
            f.population("Code42 Users")
            f.import_users([f.person(n, "Code42 Users") for n in names])
            f.setup(population="Code42 Users", preferences={"maxRequestsPerSecond": 4})
            wait_until(lambda: synced(f, len(names)), timeout=WAIT, what="every user SYNCED")
            # each user was worked once: one look-up and one create, never twice at once
            for n in names:
                looks = [p for m, p, _ in tgt.requests if m == "GET" and
                         urllib.parse.quote('"%s"' % n) in p]
                self.assertEqual(len(looks), 1, n)
            self.assertEqual(len(tgt.calls("POST")), len(names))
            # and the rate limit held: a token bucket of 4 per second (burst 4) lets at
            # most 4 + 4 * t calls through in t seconds
            ts = tgt.times
            self.assertEqual(len(ts), 2 * len(names))
            self.assertLessEqual(len(ts), 4 + 4 * (ts[-1] - ts[0]) + 1)


if __name__ == "__main__":
    unittest.main()
