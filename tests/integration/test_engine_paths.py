"""The engine's paths that only an unusual answer takes, each against a target that
answers that way (tests/integration/scimfake.py), each ending in one exact outcome: the
user's state, its log entries (action, status, httpStatus, error) and the requests the
target saw.

- a create answered 409: looked up again and linked;
- a disable answered 404: unlinked, OUT_OF_SCOPE, logged;
- a create answered without an id: FAILED, and the next attempt looks up first;
- a permanent 4xx: FAILED and not retried until the user changes;
- OAuth client credentials: a 401 drops the token, fetches a new one and retries once;
  a token that cannot be fetched fails the call with the reason and no secret;
- the guard against a target that never lets a job settle;
- a full resync: existing accounts matched from one listing, links of users gone from
  the directory removed;
- the planner: a field cleared in the directory is removed on the target; PUT re-enables;
- a population rename resyncs the rule."""
import threading
import unittest
import uuid

from harness import Serve, free_port, wait_until
from scimfake import FakeTarget, LIST, USER
from seedflow import Flow, WAIT

POP = "Code42 Users"
ERR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_err(status, detail, scim_type=None):
    body = {"schemas": [ERR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return status, body, {}


def states(f):
    return {u["username"]: u for u in f.rule_users()}


def state_of(f, name):
    return states(f).get(name, {}).get("state")


def synced(f, n):
    us = states(f)
    return len(us) == n and all(u["state"] == "SYNCED" for u in us.values())


def idle(f):
    """Nothing queued or in flight for the rule (its outbox is empty)."""
    return f.status()["pending"] == 0


def methods(reqs):
    return [m for m, _, _ in reqs]


def entries(f, name):
    """The user's log entries, oldest first, as (action, status, httpStatus)."""
    return [(e["action"], e["status"], e["httpStatus"]) for e in reversed(f.logs())
            if e["username"] == name]


def cc_auth(tgt, secret=None):
    cid, sec = ClientCredentials.CC
    return {"method": "OAUTH2_CLIENT_CREDENTIALS", "accessToken": None,
            "tokenUrl": tgt.base + "/oauth/token", "clientId": cid,
            "clientSecret": secret or sec}


class Conflicts(unittest.TestCase):
    def test_a_create_answered_409_looks_the_account_up_again_and_links_it(self):
        # The first look-up misses the account (a target whose search index lags), so
        # the engine creates, meets 409, looks up again and links.
        missed = threading.Event()

        def lagging_lookup(path, body):
            if "filter=" in path and not missed.is_set():
                missed.set()
                return 200, {"schemas": [LIST], "totalResults": 0, "Resources": []}, {}
            return None

        with FakeTarget(hooks={"GET": lagging_lookup}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            existing = tgt.add_user({"schemas": [USER], "userName": "ada"})
            f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            self.assertEqual(methods(tgt.requests), ["GET", "POST", "GET", "PATCH"])
            self.assertEqual(len(tgt.user_list()), 1)
            acct = tgt.by_name("ada")
            self.assertEqual(acct["id"], existing["id"])
            self.assertEqual(acct["title"], "Engineer")
            self.assertEqual(states(f)["ada"]["targetId"], existing["id"])
            self.assertEqual(entries(f, "ada"), [("LINK", "SUCCESS", 200),
                                                 ("UPDATE", "SUCCESS", 200)])


class Vanished(unittest.TestCase):
    def test_a_disable_answered_404_unlinks_the_user_out_of_scope(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            gone = tgt.by_name("ada")["id"]
            tgt.delete_user("ada")
            n = len(tgt.requests)
            f.patch_user(uid, {"enabled": False})
            wait_until(lambda: state_of(f, "ada") == "OUT_OF_SCOPE" and idle(f), timeout=WAIT,
                       what="ada OUT_OF_SCOPE")
            self.assertIsNone(states(f)["ada"]["targetId"])
            self.assertEqual([(m, p) for m, p, _ in tgt.requests[n:]],
                             [("PATCH", "/scim/v2/Users/" + gone)])
            self.assertEqual(tgt.user_list(), [])
            last = f.logs(action="DISABLE")
            self.assertEqual(len(last), 1)
            self.assertEqual((last[0]["status"], last[0]["httpStatus"]), ("SUCCESS", 404))
            self.assertIn("no longer exists", last[0]["error"])


class UncertainCreates(unittest.TestCase):
    def test_a_create_answered_without_an_id_is_looked_up_before_any_new_create(self):
        tgt = FakeTarget()

        def created_without_id(path, body):
            if path.startswith("/scim/v2/Users") and not tgt.calls("POST")[1:]:
                res = tgt.add_user(body)  # the account exists, the answer hides its id
                return 201, {k: v for k, v in res.items() if k != "id"}, {}
            return None

        tgt.hooks["POST"] = created_without_id
        with tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: state_of(f, "ada") == "FAILED" and idle(f), timeout=WAIT,
                       what="ada FAILED")
            u = states(f)["ada"]
            self.assertIn("without an id", u["lastError"])
            self.assertIsNone(u["targetId"])
            (failed,) = f.logs(action="CREATE")
            self.assertEqual((failed["status"], failed["httpStatus"]), ("FAILED", 201))
            self.assertIn("looked up before any new create", failed["error"])
            self.assertEqual(methods(tgt.requests), ["GET", "POST"])
            # The next change looks the account up and links it: no second account.
            f.patch_user(uid, {"title": "Chief"})
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            self.assertEqual(methods(tgt.requests), ["GET", "POST", "GET", "PATCH"])
            self.assertEqual(len(tgt.user_list()), 1)
            self.assertEqual(tgt.by_name("ada")["title"], "Chief")
            self.assertEqual(states(f)["ada"]["targetId"], tgt.by_name("ada")["id"])
            self.assertEqual(entries(f, "ada"), [("CREATE", "FAILED", 201),
                                                 ("LINK", "SUCCESS", 200),
                                                 ("UPDATE", "SUCCESS", 200)])


class PermanentErrors(unittest.TestCase):
    def test_a_permanent_4xx_fails_and_is_not_retried_until_the_user_changes(self):
        refuse = threading.Event()
        refuse.set()

        def full(path, body):
            if refuse.is_set() and path.startswith("/scim/v2/Users"):
                return scim_err(422, "the subscription has no seat left")
            return None

        with FakeTarget(hooks={"POST": full}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: state_of(f, "ada") == "FAILED", timeout=WAIT, what="ada FAILED")
            # nothing is queued for it: it is not retried
            wait_until(lambda: idle(f), timeout=WAIT, what="an empty outbox")
            self.assertEqual(f.status()["status"], "FAILED")
            self.assertIn("POST answered 422", states(f)["ada"]["lastError"])
            self.assertIn("no seat left", states(f)["ada"]["lastError"])
            (e,) = f.logs(action="CREATE")
            self.assertEqual((e["status"], e["httpStatus"]), ("FAILED", 422))
            self.assertIn("no seat left", e["error"])
            self.assertEqual(methods(tgt.requests), ["GET", "POST"])
            # the user changes: one more create, which succeeds (the look-up found
            # nothing the first time, so none is sent again)
            refuse.clear()
            f.patch_user(uid, {"title": "Chief"})
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            self.assertEqual(methods(tgt.requests), ["GET", "POST", "POST"])
            self.assertEqual(tgt.by_name("ada")["title"], "Chief")
            self.assertEqual(f.status()["status"], "ACTIVE")


class ClientCredentials(unittest.TestCase):
    CC = ("scimitar", "cc-secret-value")

    def setup(self, f, tgt, secret=CC[1]):
        f.setup(population=POP, auth={"method": "OAUTH2_CLIENT_CREDENTIALS",
                                      "accessToken": None,
                                      "tokenUrl": tgt.base + "/oauth/token",
                                      "clientId": self.CC[0], "clientSecret": secret})

    def test_a_401_drops_the_token_fetches_a_new_one_and_retries_once(self):
        with FakeTarget(token=None, oauth=self.CC) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            self.setup(f, tgt)
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            self.assertEqual(tgt.token_requests, 1)
            # the target forgets the token (revoked, or expired early)
            tgt.revoke_tokens()
            n = len(tgt.requests)
            f.patch_user(uid, {"title": "Chief"})
            wait_until(lambda: (tgt.by_name("ada") or {}).get("title") == "Chief" and
                       idle(f), timeout=WAIT, what="the new title delivered")
            self.assertEqual([(m, p.split("/Users")[0]) for m, p, _ in tgt.requests[n:]],
                             [("PATCH", "/scim/v2"), ("POST", "/oauth/token"),
                              ("PATCH", "/scim/v2")])
            self.assertEqual(tgt.token_requests, 2)
            self.assertEqual([e["status"] for e in f.logs(action="UPDATE")], ["SUCCESS"])
            self.assertEqual(state_of(f, "ada"), "SYNCED")

    def test_a_target_that_keeps_answering_401_fails_after_one_retry(self):
        refuse = threading.Event()

        def no(path, body):
            return scim_err(401, "the token is not valid") if refuse.is_set() else None

        with FakeTarget(token=None, oauth=self.CC, hooks={"PATCH": no}) as tgt, \
                Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            self.setup(f, tgt)
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            refuse.set()
            n = len(tgt.requests)
            f.patch_user(uid, {"title": "Chief"})
            failed = wait_until(lambda: f.logs(action="UPDATE", status="FAILED"),
                                timeout=WAIT, what="a FAILED update")
            self.assertEqual(failed[-1]["httpStatus"], 401)
            self.assertIn("PATCH answered 401", failed[-1]["error"])
            # each attempt: the call, one new token, the call again; never more
            seen = [(m, p.split("?")[0].split("/Users")[0]) for m, p, _ in tgt.requests[n:]]
            triple = [("PATCH", "/scim/v2"), ("POST", "/oauth/token"), ("PATCH", "/scim/v2")]
            self.assertGreaterEqual(len(seen), 3)
            self.assertEqual(seen, (triple * (len(seen) // 3 + 1))[:len(seen)])
            self.assertEqual(state_of(f, "ada"), "FAILED")

    def test_a_token_that_cannot_be_fetched_fails_the_call_with_the_reason(self):
        with FakeTarget(token=None, oauth=self.CC) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.user("ada", POP)
            self.setup(f, tgt, secret="a-wrong-secret")
            e = wait_until(lambda: f.logs(), timeout=WAIT, what="a log entry")[-1]
            # no answer at all (no call was sent): httpStatus null, retried later
            self.assertEqual((e["username"], e["action"], e["status"], e["httpStatus"]),
                             ("ada", "LINK", "RETRY", None))
            self.assertIn("token", e["error"].lower())
            self.assertIn("401", e["error"])
            wait_until(lambda: state_of(f, "ada") == "FAILED", timeout=WAIT, what="ada FAILED")
            u = states(f)["ada"]
            self.assertIn("token", u["lastError"].lower())
            for text in (str(f.logs()), str(u), srv.output()):
                self.assertNotIn("a-wrong-secret", text)
            # only the token URL was asked: no SCIM call went out without a token
            self.assertTrue(tgt.requests)
            self.assertEqual({p for _, p, _ in tgt.requests}, {"/oauth/token"})


    def test_a_listing_without_a_token_falls_back_to_look_ups_that_fail_alike(self):
        # 50 unlinked users: the first resync wants one listing, which cannot get a
        # token; every user's own look-up then fails for the same reason, and nothing
        # but the token URL is ever asked.
        with FakeTarget(token=None, oauth=self.CC) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            names = ["user%02d" % i for i in range(50)]
            f.first_resync_only(POP, names, auth=cc_auth(tgt, "a-wrong-secret"))
            wait_until(lambda: len(states(f)) == 50 and
                       all(u["state"] == "FAILED" for u in states(f).values()),
                       timeout=WAIT, what="every user FAILED")
            retries = f.logs(status="RETRY")
            self.assertEqual({e["username"] for e in retries}, set(names))
            self.assertTrue(all("token" in e["error"].lower() for e in retries))
            self.assertEqual({p for _, p, _ in tgt.requests}, {"/oauth/token"})
            # every call failed: the connection is in quarantine
            s = f.wait_status(lambda s: s["status"] == "QUARANTINED", what="QUARANTINED")
            self.assertEqual(s["quarantineReason"], "most calls fail")
            # a dry run's drift repair cannot read the accounts either, and says so
            plan = f.resync("?dryRun=true&verify=true")
            self.assertEqual(plan["verifyError"], "the target's accounts could not be read")
            self.assertEqual(len(plan["creates"]), 50)
            self.assertNotIn("a-wrong-secret", srv.output())


class TokenFetchErrors(unittest.TestCase):
    def test_test_connection_explains_every_way_a_token_fetch_fails(self):
        answers = {
            "401": (401, {"error": "invalid_client"}, {}),
            "400": (400, {"error": "invalid_request"}, {}),
            "403": (403, {"error": "access_denied"}, {}),
            "500": (500, b"upstream broke", {}),
            "notoken": (200, {"token_type": "Bearer", "expires_in": 60}, {}),
            "badjson": (200, b"{\"access_token\": ", {}),
        }

        def token_url(path, body):
            if path.startswith("/oauth/token?case="):
                return answers[path.split("=", 1)[1]]
            return None

        cc = ClientCredentials.CC
        with FakeTarget(token=None, oauth=cc, hooks={"POST": token_url}) as tgt, \
                Serve() as srv:
            def test(url):
                st, b, _ = srv.api("POST", "/api/v1/connections/test", {
                    "name": "T", "scim": {"baseUrl": tgt.scim_base},
                    "auth": {"method": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": url,
                             "clientId": cc[0], "clientSecret": cc[1]}})
                self.assertEqual(st, 200, b)
                self.assertNotIn(cc[1], str(b))
                return b

            self.assertIs(test(tgt.base + "/oauth/token")["ok"], True)
            for case, want in (("401", "refused the client (401)"),
                               ("400", "refused the client (400)"),
                               ("403", "refused the client (403)"),
                               ("500", "answered 500 instead of 200"),
                               ("notoken", "has no access_token"),
                               ("badjson", "has no access_token")):
                r = test(tgt.base + "/oauth/token?case=" + case)
                self.assertIs(r["ok"], False, case)
                last = r["steps"][-1]
                self.assertEqual((last["name"], last["ok"]), ("Authentication", False), case)
                self.assertIn(want, last["detail"], case)
            r = test("http://127.0.0.1:%d/oauth/token" % free_port())
            self.assertEqual((r["steps"][-1]["name"], r["steps"][-1]["ok"]),
                             ("Authentication", False))
            self.assertIn("cannot reach the token URL", r["steps"][-1]["detail"])
            self.assertNotIn(cc[1], srv.output())


class NeverSettles(unittest.TestCase):
    def test_a_job_that_does_not_settle_stops_after_its_step_budget(self):
        # Every create is answered 201 with a fresh id and without the title it was
        # sent; every PATCH of that id is 404: create, patch, create, ... for ever.
        def phantom(path, body):
            if path.startswith("/scim/v2/Users") and isinstance(body, dict):
                return 201, {"schemas": [USER], "id": str(uuid.uuid4()),
                             "userName": body["userName"]}, {}
            return None

        mapping = [{"target": "userName", "source": "username"},
                   {"target": "title", "source": "title"}]
        with FakeTarget(hooks={"POST": phantom}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.user("ada", POP)
            f.setup(population=POP, mapping=mapping)
            wait_until(lambda: state_of(f, "ada") == "FAILED" and idle(f), timeout=WAIT,
                       what="ada FAILED")
            # 8 calls plus 3 per mapped attribute: 14
            self.assertEqual(methods(tgt.requests), ["GET"] + ["POST", "PATCH"] * 6 + ["POST"])
            err = states(f)["ada"]["lastError"]
            self.assertIn("does not settle this user after 14 calls", err)
            self.assertIn("PATCH answered 404", err)
            last = f.logs()[0]
            self.assertEqual((last["action"], last["status"], last["httpStatus"]),
                             ("UPDATE", "FAILED", 404))
            self.assertIn("after 14 calls", last["error"])
            self.assertEqual(len(f.logs(action="CREATE", status="SUCCESS")), 7)


class ResyncListing(unittest.TestCase):
    def test_many_unlinked_users_are_matched_from_one_listing(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            names = ["user%02d" % i for i in range(60)]
            for n in names[:55]:
                tgt.add_user({"schemas": [USER], "userName": n.upper()})
            f.first_resync_only(POP, names)
            wait_until(lambda: synced(f, 60), timeout=WAIT, what="every user SYNCED")
            gets = [p for m, p, _ in tgt.requests if m == "GET"]
            self.assertEqual(gets, ["/scim/v2/Users?startIndex=1&count=1000"])
            self.assertEqual(len(tgt.calls("POST")), 5)
            self.assertEqual(sorted(b["userName"] for _, _, b in tgt.calls("POST")), names[55:])
            self.assertEqual(len(tgt.calls("PATCH")), 55)
            self.assertEqual(len(tgt.user_list()), 60)
            links = f.logs(action="LINK")
            self.assertEqual(sorted(e["username"] for e in links), names[:55])
            self.assertEqual({(e["status"], e["httpStatus"]) for e in links}, {("SUCCESS", 200)})

    def test_the_listing_is_paged_to_its_end_with_a_fresh_token_after_a_401(self):
        # The target pages 25 at a time whatever is asked, does not say how many it
        # holds, and refuses the first page's token (revoked early).
        refused = threading.Event()

        def first_page_401(path, body):
            if path.startswith("/scim/v2/Users?startIndex=") and not refused.is_set():
                refused.set()
                return scim_err(401, "the token has been revoked")
            return None

        with FakeTarget(token=None, oauth=ClientCredentials.CC, max_results=25,
                        omit_total=True, hooks={"GET": first_page_401}) as tgt, \
                Serve() as srv:
            f = Flow(srv, tgt)
            names = ["user%02d" % i for i in range(60)]
            for n in names[:55]:
                tgt.add_user({"schemas": [USER], "userName": n})
            f.first_resync_only(POP, names, auth=cc_auth(tgt))
            wait_until(lambda: synced(f, 60), timeout=WAIT, what="every user SYNCED")
            page = "/scim/v2/Users?startIndex=%d&count=1000"
            gets = [p for m, p, _ in tgt.requests if m == "GET"]
            self.assertEqual(gets[:5], [page % 1, page % 1, page % 26, page % 51, page % 56])
            # A listing without totalResults is complete once read to its empty last
            # page: the users it lacks are created directly, without look-ups.
            self.assertEqual(gets[5:], [])
            self.assertEqual(tgt.token_requests, 2)
            self.assertEqual(len(f.logs(action="LINK")), 55)
            self.assertEqual(len(tgt.calls("POST", "/Users")), 5)
            self.assertEqual(len(tgt.user_list()), 60)
            # a dry run with drift repair reads the listing itself (its own token), to the
            # end, and finds nothing drifted
            n = len(tgt.requests)
            plan = f.resync("?dryRun=true&verify=true")
            self.assertEqual((plan["counts"]["checked"], plan["counts"]["drifted"]), (60, 0))
            self.assertEqual(plan["drifted"], [])
            self.assertNotIn("verifyError", plan)
            self.assertEqual([(m, p) for m, p, _ in tgt.requests[n:]],
                             [("POST", "/oauth/token")] +
                             [("GET", page % i) for i in (1, 26, 51, 61)])

    def test_a_target_that_refuses_listing_gets_one_look_up_per_user(self):
        def no_listing(path, body):
            if path.startswith("/scim/v2/Users?startIndex="):
                return scim_err(403, "listing users is not allowed")
            return None

        with FakeTarget(hooks={"GET": no_listing}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            names = ["user%02d" % i for i in range(60)]
            for n in names[:55]:
                tgt.add_user({"schemas": [USER], "userName": n})
            f.first_resync_only(POP, names)
            wait_until(lambda: synced(f, 60), timeout=WAIT, what="every user SYNCED")
            gets = [p for m, p, _ in tgt.requests if m == "GET"]
            self.assertEqual(gets[0], "/scim/v2/Users?startIndex=1&count=1000")
            self.assertEqual(len(gets), 61)
            self.assertTrue(all("?filter=" in p for p in gets[1:]))
            links = f.logs(action="LINK")
            self.assertEqual(sorted(e["username"] for e in links), names[:55])
            self.assertEqual(len(tgt.calls("POST")), 5)
            # a dry run with drift repair says it could not read the accounts
            plan = f.resync("?dryRun=true&verify=true")
            self.assertEqual(plan["verifyError"], "the target's accounts could not be read")
            self.assertEqual(plan["counts"]["checked"], 0)

    def test_a_link_whose_user_left_the_directory_is_removed_by_a_resync(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            for n in ("ada", "bob"):
                f.user(n, POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 2), timeout=WAIT, what="both SYNCED")
            # the user leaves behind the server's back (no change event): only a full
            # resync can see that its link has no user any more
            srv.sql("DELETE FROM dir_users WHERE username = 'bob'")
            n = len(tgt.requests)
            f.resync()
            wait_until(lambda: state_of(f, "bob") == "DISABLED" and idle(f), timeout=WAIT,
                       what="bob DISABLED")
            bob = tgt.by_name("bob")
            self.assertIs(bob["active"], False)
            self.assertEqual([(m, p, b["Operations"]) for m, p, b in tgt.requests[n:]],
                             [("PATCH", "/scim/v2/Users/" + bob["id"],
                               [{"op": "replace", "path": "active", "value": False}])])
            (e,) = f.logs(action="DISABLE")
            self.assertEqual((e["username"], e["status"], e["httpStatus"]),
                             ("bob", "SUCCESS", 200))
            self.assertIs(tgt.by_name("ada")["active"], True)


class VerifyOneByOne(unittest.TestCase):
    def test_a_vanished_account_is_created_again_and_a_failed_read_retried(self):
        # The target cannot be listed: drift repair reads each linked account.
        broken = threading.Event()

        def reads(path, body):
            if path.startswith("/scim/v2/Users?startIndex="):
                return scim_err(403, "listing users is not allowed")
            cy = tgt.by_name("cy")
            if cy and path == "/scim/v2/Users/" + cy["id"] and not broken.is_set():
                broken.set()
                return scim_err(500, "the read failed")
            return None

        tgt = FakeTarget(hooks={"GET": reads})
        with tgt, Serve() as srv:
            f = Flow(srv, tgt)
            for n in ("ada", "bob", "cy"):
                f.user(n, POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 3), timeout=WAIT, what="all SYNCED")
            broken.clear()
            old_bob = tgt.by_name("bob")["id"]
            tgt.delete_user("bob")
            before = f.resyncs_total()
            f.resync("?verify=true")
            f.wait_resynced(before)
            wait_until(lambda: synced(f, 3) and idle(f), timeout=WAIT, what="all SYNCED")
            self.assertTrue(broken.is_set())
            bob = tgt.by_name("bob")
            self.assertNotEqual(bob["id"], old_bob)
            self.assertEqual(states(f)["bob"]["targetId"], bob["id"])
            self.assertEqual(len(tgt.user_list()), 3)
            verify = [(e["username"], e["status"], e["httpStatus"])
                      for e in reversed(f.logs(action="VERIFY"))]
            self.assertEqual(sorted(verify), [("bob", "DRIFTED", 404), ("cy", "RETRY", 500)])
            gone = f.logs(action="VERIFY", status="DRIFTED")[0]
            self.assertIn("no longer exists", gone["error"])
            self.assertEqual(len(tgt.calls("POST")), 4)


class LookupAnswers(unittest.TestCase):
    def test_a_failed_look_up_is_retried_and_a_garbled_one_fails(self):
        seen = set()

        def lookups(path, body):
            if "filter=" in path and "ada" in path and "ada" not in seen:
                seen.add("ada")
                return scim_err(500, "search is down")
            if "filter=" in path and "bob" in path:
                return 200, {"schemas": [LIST], "items": "not a list response"}, {}
            return None

        with FakeTarget(hooks={"GET": lookups}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            f.user("ada", POP)
            f.user("bob", POP)
            f.setup(population=POP)
            wait_until(lambda: state_of(f, "ada") == "SYNCED" and
                       state_of(f, "bob") == "FAILED" and idle(f), timeout=WAIT,
                       what="ada SYNCED, bob FAILED")
            self.assertEqual(entries(f, "ada"), [("LINK", "RETRY", 500),
                                                 ("CREATE", "SUCCESS", 201)])
            self.assertEqual(entries(f, "bob"), [("LINK", "FAILED", 200)])
            self.assertIn("not a SCIM ListResponse", states(f)["bob"]["lastError"])
            # bob is not created blindly, and not looked up again until he changes
            self.assertEqual([b["userName"] for _, _, b in tgt.calls("POST")], ["ada"])
            self.assertEqual(len([p for m, p, _ in tgt.requests if "bob" in p]), 1)


class Isolation(unittest.TestCase):
    def refusing(self, answer):
        """A target that refuses, with answer(ops index), any PATCH touching title."""
        def patch(path, body):
            ops = (body or {}).get("Operations", []) if isinstance(body, dict) else []
            for i, op in enumerate(ops):
                if op.get("path") == "title" or "title" in (op.get("value") or {}):
                    return answer(i)
            return None
        return patch

    def check(self, answer, expected_patches):
        with FakeTarget(hooks={"PATCH": self.refusing(answer)}) as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            n = len(tgt.requests)
            f.patch_user(uid, {"title": "Chief", "nickname": "Countess",
                               "name": {"family": "Lovelace"}})
            wait_until(lambda: state_of(f, "ada") == "PARTIALLY_SYNCED" and idle(f),
                       timeout=WAIT, what="ada PARTIALLY_SYNCED")
            acct = tgt.by_name("ada")
            self.assertEqual((acct["title"], acct["nickName"], acct["name"]["familyName"]),
                             ("Engineer", "Countess", "Lovelace"))
            u = states(f)["ada"]
            self.assertEqual([r["attribute"] for r in u["rejected"]], ["title"])
            self.assertEqual(u["rejected"][0]["httpStatus"], 400)
            patches = [[op.get("path") for op in b["Operations"]]
                       for m, _, b in tgt.requests[n:]]
            self.assertEqual(patches, expected_patches)
            (failed,) = f.logs(status="FAILED")
            self.assertEqual((failed["action"], failed["httpStatus"]), ("UPDATE", 400))
            self.assertEqual(failed["changes"][0]["attribute"], "title")

    def test_a_refusal_that_names_nothing_is_halved_down_to_the_attribute(self):
        # familyName, title, nickName; then halves: [familyName, title] (refused) and
        # [nickName]; [familyName] and [title] (refused alone: rejected)
        self.check(lambda i: (400, {"schemas": [ERR], "status": "400"}, {}),
                   [["name.familyName", "title", "nickName"], ["name.familyName", "title"],
                    ["name.familyName"], ["title"], ["nickName"]])

    def test_a_refusal_that_names_the_operation_sets_it_aside(self):
        self.check(lambda i: scim_err(400, "Operations[%d]: the value is not accepted" % i,
                                      "invalidValue"),
                   [["name.familyName", "title", "nickName"], ["name.familyName", "nickName"],
                    ["title"]])

    def test_a_create_refused_without_a_name_is_narrowed_to_an_account(self):
        def post(path, body):
            if isinstance(body, dict) and "title" in body:
                return 400, {"schemas": [ERR], "status": "400"}, {}
            return None

        with FakeTarget(hooks={"POST": post, "PATCH": self.refusing(
                lambda i: (400, {"schemas": [ERR], "status": "400"}, {}))}) as tgt, \
                Serve() as srv:
            f = Flow(srv, tgt)
            f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: state_of(f, "ada") == "PARTIALLY_SYNCED" and idle(f),
                       timeout=WAIT, what="ada PARTIALLY_SYNCED")
            self.assertEqual(len(tgt.user_list()), 1)
            acct = tgt.by_name("ada")
            person = f.person("ada", POP)
            self.assertNotIn("title", acct)
            self.assertEqual(acct["nickName"], person["nickname"])
            self.assertEqual(acct["name"]["familyName"], person["name"]["family"])
            self.assertEqual([r["attribute"] for r in states(f)["ada"]["rejected"]],
                             ["title"])
            posts = tgt.calls("POST")
            self.assertGreater(len(posts), 1)
            self.assertTrue(all("title" in b for _, _, b in posts[:-1]))
            self.assertNotIn("title", posts[-1][2])


class Planner(unittest.TestCase):
    def test_a_field_cleared_in_the_directory_is_removed_on_the_target(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            nick = tgt.by_name("ada")["nickName"]
            n = len(tgt.requests)
            f.patch_user(uid, {"nickname": None})
            wait_until(lambda: "nickName" not in tgt.by_name("ada"), timeout=WAIT,
                       what="nickName removed")
            wait_until(lambda: synced(f, 1) and idle(f), timeout=WAIT, what="ada SYNCED")
            self.assertEqual([(m, b["Operations"]) for m, _, b in tgt.requests[n:]],
                             [("PATCH", [{"op": "remove", "path": "nickName"}])])
            e = f.logs(action="UPDATE")[0]
            self.assertEqual((e["status"], e["httpStatus"]), ("SUCCESS", 200))
            self.assertEqual(e["changes"], [{"attribute": "nickName", "old": nick, "new": None}])

    def test_put_disables_and_enables_again(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            uid = f.user("ada", POP)
            f.setup(population=POP, preferences={"updateMethod": "PUT"})
            wait_until(lambda: synced(f, 1), timeout=WAIT, what="ada SYNCED")
            n = len(tgt.requests)
            f.patch_user(uid, {"enabled": False})
            wait_until(lambda: state_of(f, "ada") == "DISABLED", timeout=WAIT,
                       what="ada DISABLED")
            f.patch_user(uid, {"enabled": True})
            wait_until(lambda: synced(f, 1) and idle(f), timeout=WAIT, what="ada SYNCED")
            sent = tgt.requests[n:]
            self.assertEqual(methods(sent), ["PUT", "PUT"])
            self.assertEqual([b["active"] for _, _, b in sent], [False, True])
            # each PUT carries the whole resource
            for _, path, body in sent:
                self.assertEqual(path, "/scim/v2/Users/" + body["id"])
                self.assertEqual(body["userName"], "ada")
                self.assertEqual(body["title"], "Engineer")
            acct = tgt.by_name("ada")
            self.assertIs(acct["active"], True)
            self.assertEqual(acct["nickName"], f.person("ada", POP)["nickname"])
            self.assertEqual([(e["action"], e["status"], e["httpStatus"])
                              for e in f.logs()[:2]],
                             [("ENABLE", "SUCCESS", 200), ("DISABLE", "SUCCESS", 200)])


class PopulationRename(unittest.TestCase):
    def test_renaming_the_filtered_population_resyncs_the_rule(self):
        with FakeTarget() as tgt, Serve() as srv:
            f = Flow(srv, tgt)
            for n in ("ada", "bob", "cy"):
                f.user(n, POP)
            f.setup(population=POP)
            wait_until(lambda: synced(f, 3) and idle(f), timeout=WAIT, what="all SYNCED")
            before = f.resyncs_total()
            f.ok("PATCH", "/api/v1/populations/" + f.pops[POP], {"name": "Former Staff"})
            wait_until(lambda: all(u["state"] == "DISABLED" for u in states(f).values()) and
                       idle(f), timeout=WAIT, what="every user DISABLED")
            self.assertGreater(f.resyncs_total(), before)
            self.assertEqual([u["active"] for u in tgt.user_list()], [False] * 3)
            self.assertEqual(sorted(e["username"] for e in f.logs(action="DISABLE")),
                             ["ada", "bob", "cy"])
            self.assertEqual(len(tgt.calls("PATCH")), 3)


if __name__ == "__main__":
    unittest.main()
