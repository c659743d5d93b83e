"""Group provisioning at scale and against an independent server: a group of 10,000
members (through PATCH batches of membersPerRequest, never a full replace), membership
churn under load with an exact end state, `kill -9` in the middle of a membership sync
with an exact end state after the restart (no duplicate group, no missing or extra
member), and nested groups flattened, renames and churn against SCIMMY with Groups
(tests/interop/scimmy-server.mjs --groups)."""
import os
import random
import unittest

from harness import Serve, Target, wait_until
from interop import RecordingProxy, ScimmyServer
from seedflow import WAIT_LONG, started
from test_sync_groups import GroupFlow

POP = "Staff"
N = int(os.environ.get("SCIMITAR_GROUP_MEMBERS", "10000"))
SMALL_MAPPING = [
    {"target": "userName", "source": "username"},
    {"target": "givenName", "source": "name.given"},
    {"target": "familyName", "source": "name.family"},
    {"target": "workEmail", "source": "email"},
]


def members_of(f, name):
    g = f.target_group(name)
    if g is None:
        return None
    # the listing may leave members out: read the group itself
    return [m["value"] for m in f.read("/Groups/" + g["id"]).get("members", [])]


def sent_batches(f, action):
    return [e["changes"][0]["new"] for e in f.logs(kind="group", action=action)
            if e["status"] == "SUCCESS"]


class GroupScaleTest(unittest.TestCase):

    def base(self, srv):
        f = GroupFlow(srv, self.tgt)
        f.population(POP)
        return f

    def people(self, f, n, prefix="m"):
        f.import_users([{"username": "%s%05d" % (prefix, i), "email": "%s%05d@example.com" % (prefix, i),
                         "name": {"given": "G", "family": "F%d" % i},
                         "population": {"name": POP}} for i in range(n)])

    def all_ids(self, f):
        out, cursor = {}, None
        while True:
            path = "/api/v1/users?limit=1000" + ("&cursor=" + cursor if cursor else "")
            page = f.ok("GET", path)
            for u in page["items"]:
                out[u["username"]] = u["id"]
            cursor = page.get("nextCursor")
            if not cursor:
                return out

    def fill_group(self, f, gid, ids):
        for uid in ids:
            f.add_member(gid, user_id=uid)

    def test_ten_thousand_members_then_churn_under_load(self):
        self.tgt = started(self, Target(token="code42-token-123"))
        srv = started(self, Serve())
        f = self.base(srv)
        self.people(f, N)
        ids = self.all_ids(f)
        big = f.group("Everyone", user_filter={"match": "ALL", "conditions": [
            {"attribute": "population.name", "operator": "EQUALS", "value": POP}]})
        small = f.group("Churn")
        names = sorted(ids)
        in_small = set(names[:500])
        self.fill_group(f, small, [ids[n] for n in in_small])
        f.setup(population=POP, mapping=SMALL_MAPPING)
        f.groups_put({"enabled": True, "select": {"names": ["Everyone", "Churn"]},
                      "membersPerRequest": 500})
        wait_until(lambda: len(members_of(f, "Everyone") or []) == N, timeout=WAIT_LONG,
                   interval=0.5, what="%d members in Everyone" % N)
        got = members_of(f, "Everyone")
        self.assertEqual(len(set(got)), N)
        users = f.target_users()
        self.assertEqual(set(got), {u["id"] for u in users.values()})
        adds = sent_batches(f, "MEMBERS_ADD")
        self.assertTrue(all(0 < n <= 500 for n in adds), adds)
        self.assertEqual(f.stats().get("PUT", 0), 0)

        # churn: members leave and join the small group, users are disabled and made,
        # all while the changes keep coming
        rnd = random.Random(7)
        want = set(in_small)
        for step in range(300):
            n = rnd.choice(names)
            if n in want:
                f.remove_member(small, ids[n])
                want.discard(n)
            else:
                f.add_member(small, user_id=ids[n])
                want.add(n)
        disabled = rnd.sample(sorted(want), 20)
        for n in disabled:
            f.patch_user(ids[n], {"enabled": False})
        late = []
        for i in range(30):
            uid = f.user("late%02d" % i, POP, email="late%02d@example.com" % i)
            f.add_member(small, user_id=uid)
            late.append("late%02d" % i)
        expect = (want - set(disabled)) | set(late)

        def exact():
            users = f.target_users()
            by_id = {u["id"]: n for n, u in users.items()}
            got = members_of(f, "Churn") or []
            return sorted(by_id.get(v, v) for v in got) == sorted(expect)
        wait_until(exact, timeout=WAIT_LONG, interval=0.5, what="Churn's exact members")
        # Everyone (dynamic: the whole population) gained the late users and lost the
        # disabled ones
        wait_until(lambda: len(members_of(f, "Everyone")) == N + 30 - 20, timeout=WAIT_LONG,
                   interval=0.5, what="Everyone's members after the churn")
        self.assertEqual(len(f.target_groups()), 2)

    def test_kill9_mid_membership_sync_gives_the_exact_end_state(self):
        self.tgt = started(self, Target(token="code42-token-123"))
        first = Serve()
        self.addCleanup(first.tmp.cleanup)
        first.start()
        f = self.base(first)
        self.people(f, N)
        ids = self.all_ids(f)
        g = f.group("All")
        f.setup(population=POP, mapping=SMALL_MAPPING)
        f.wait_target_count(N, timeout=WAIT_LONG)
        # direct members, through the API
        self.fill_group(f, g, list(ids.values()))
        f.wait_events_handled(timeout=WAIT_LONG)
        f.groups_put({"enabled": True, "select": {"names": ["All"]}, "membersPerRequest": 25})
        wait_until(lambda: len(members_of(f, "All") or []) >= N // 10, timeout=WAIT_LONG,
                   interval=0.05, what="the membership sync to be under way")
        first.kill9()
        if first.log:
            first.log.close()
            first.log = None
        at_kill = len(members_of(f, "All"))
        self.assertLess(at_kill, N, "the sync ended before the kill")

        again = started(self, Serve(db=first.db, port=first.port))
        f.srv = again
        wait_until(lambda: len(members_of(f, "All") or []) == N, timeout=WAIT_LONG,
                   interval=0.5, what="every member after the restart (killed at %d)" % at_kill)
        got = members_of(f, "All")
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), {u["id"] for u in f.target_users().values()})
        self.assertEqual(len(f.target_groups()), 1)
        self.assertEqual(f.stats().get("POST", 0), N + 1, "one POST per user and the group")
        wait_until(lambda: f.status()["groups"]["synced"] == 1, timeout=WAIT_LONG,
                   what="the group synced")
        self.assertEqual(f.status()["groups"]["members"], N)


class GroupInteropScimmyTest(unittest.TestCase):
    """Against SCIMMY with Groups, through a recording proxy: what scimitar sends."""

    def test_nested_flattened_renames_and_churn(self):
        up = started(self, ScimmyServer(groups=True))
        self.tgt = px = started(self, RecordingProxy(up))
        srv = started(self, Serve())
        f = GroupFlow(srv, px)
        f.population(POP)
        f.import_users([f.person("s%02d" % i, POP) for i in range(12)])
        ids = {("s%02d" % i): f.user_id("s%02d" % i) for i in range(12)}
        eng = f.group("Engineering")
        web = f.group("Web")
        api = f.group("API")
        f.add_member(eng, group_id=web)
        f.add_member(web, group_id=api)
        for n in ("s00", "s01"):
            f.add_member(eng, user_id=ids[n])
        for n in ("s02", "s03"):
            f.add_member(web, user_id=ids[n])
        for n in ("s04", "s05"):
            f.add_member(api, user_id=ids[n])
        # an Engineering group exists on the server already: linked, not duplicated
        f.setup(population=POP, mapping=SMALL_MAPPING)
        wait_until(lambda: len(up.users()) == 12, timeout=60, what="users on SCIMMY")
        st, made, _ = up.scim("POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering", "members": []})
        self.assertEqual(st, 201, made)
        f.groups_put({"enabled": True, "select": {"under": "Engineering"},
                      "membersPerRequest": 3})
        f.wait_members("Engineering", ["s00", "s01", "s02", "s03", "s04", "s05"])
        f.wait_members("Web", ["s02", "s03", "s04", "s05"])
        f.wait_members("API", ["s04", "s05"])
        self.assertEqual(f.target_group("Engineering")["id"], made["id"])
        # rename and churn
        f.ok("PATCH", "/api/v1/groups/" + api, {"name": "Platform API"})
        f.remove_member(eng, ids["s00"])
        f.add_member(api, user_id=ids["s06"])
        f.patch_user(ids["s02"], {"enabled": False})
        f.wait_members("Platform API", ["s04", "s05", "s06"])
        f.wait_members("Web", ["s03", "s04", "s05", "s06"])
        f.wait_members("Engineering", ["s01", "s03", "s04", "s05", "s06"])
        self.assertIsNone(f.target_group("API"))
        reqs = px.requests()
        group_writes = [r for r in reqs if r["path"].startswith("/scim/v2/Groups")
                        and r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
        self.assertFalse([r for r in group_writes if r["method"] == "PUT"], "never a full replace")
        self.assertEqual(len([r for r in group_writes if r["method"] == "POST"]), 2)
        for r in group_writes:
            if r["method"] != "PATCH":
                continue
            self.assertLess(r["status"], 300, r)
            for op in r["body"]["Operations"]:
                if op.get("path") == "members":
                    self.assertLessEqual(len(op["value"]), 3, op)
                    self.assertEqual(op["op"], "add")
                elif op["op"] == "remove":
                    self.assertTrue(op["path"].startswith("members[value eq "), op)
        removes = [r for r in group_writes if r["method"] == "PATCH"
                   and any(op["op"] == "remove" for op in r["body"]["Operations"])]
        self.assertTrue(removes)


if __name__ == "__main__":
    unittest.main()
