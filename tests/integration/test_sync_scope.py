"""Who is in a rule's scope and what happens when that changes: leaving by a population
change and by group removal (direct, nested, dynamic), coming back (re-enabled, never
duplicated), and the Allow create / update / disable toggles (Unsynced and Partially
synced counts)."""
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, group_filter, started

POP = "Code42 Users"
OTHER = "Contractors"


class ScopeTest(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="code42-token-123", no_delete=True))
        self.srv = started(self, Serve())
        self.f = Flow(self.srv, self.tgt)

    def active(self, name, want):
        return self.f.wait_target(name, lambda u: u is not None and u.get("active") is want,
                                  what="%s active:%s" % (name, want))

    def test_population_change_leaves_scope_and_reentry_reenables(self):
        f = self.f
        f.population(OTHER)
        uid = f.user("ada", POP)
        f.setup(population=POP)
        first = self.active("ada", True)
        posts = f.stats().get("POST", 0)
        f.patch_user(uid, {"population": {"name": OTHER}})
        self.active("ada", False)
        f.patch_user(uid, {"population": {"name": POP}, "title": "Returned"})
        back = f.wait_target("ada", lambda u: u and u.get("active") is True
                             and u.get("title") == "Returned", what="ada back, up to date")
        self.assertEqual(back["id"], first["id"])
        self.assertEqual(f.target_count(), 1)
        self.assertEqual(f.stats().get("POST", 0), posts)
        self.assertEqual(f.stats().get("DELETE", 0), 0)

    def test_disabled_user_reenabled_not_duplicated(self):
        f = self.f
        uid = f.user("ada", POP)
        f.setup(population=POP)
        first = self.active("ada", True)
        f.patch_user(uid, {"enabled": False})
        self.active("ada", False)
        f.patch_user(uid, {"enabled": True})
        self.assertEqual(self.active("ada", True)["id"], first["id"])
        self.assertEqual(f.target_count(), 1)
        self.assertEqual(f.stats().get("POST", 0), 1)

    def test_direct_group_removal_leaves_scope(self):
        f = self.f
        a = f.user("ada", POP)
        b = f.user("bob", POP)
        g = f.group("Code42 Access")
        f.add_member(g, user_id=a)
        f.add_member(g, user_id=b)
        f.setup(user_filter=group_filter("Code42 Access"))
        f.wait_target_count(2)
        f.remove_member(g, a)
        self.active("ada", False)
        self.assertTrue(f.target_user("bob")["active"])
        f.add_member(g, user_id=a)
        self.active("ada", True)
        self.assertEqual(f.target_count(), 2)

    def test_nested_group_membership_is_inherited_and_removal_leaves_scope(self):
        f = self.f
        a = f.user("ada", POP)
        parent = f.group("Engineering")
        child = f.group("Compilers")
        f.add_member(child, user_id=a)
        f.add_member(parent, group_id=child)
        f.setup(user_filter=group_filter("Engineering"))
        self.active("ada", True)
        f.remove_member(parent, child)
        self.active("ada", False)
        self.assertEqual(f.stats().get("DELETE", 0), 0)

    def test_dynamic_group_membership_follows_its_filter(self):
        f = self.f
        a = f.user("ada", POP, title="Sales Lead")
        f.user("bob", POP, title="Engineer")
        f.group("Sales", user_filter={"match": "ALL", "conditions": [
            {"attribute": "title", "operator": "STARTS_WITH", "value": "Sales"}]})
        f.setup(user_filter=group_filter("Sales"))
        self.active("ada", True)
        self.assertIsNone(f.target_user("bob"))
        f.patch_user(a, {"title": "Engineer"})
        self.active("ada", False)
        f.patch_user(a, {"title": "Sales Director"})
        u = self.active("ada", True)
        self.assertEqual(u["title"], "Sales Director")
        self.assertEqual(f.target_count(), 1)

    def test_allow_create_off_counts_unsynced(self):
        f = self.f
        f.user("ada", POP)
        f.user("bob", POP)
        f.setup(population=POP, preferences={"allowCreate": False})
        f.wait_status(lambda s: s["users"]["unsynced"] == 2, what="2 unsynced")
        self.assertEqual(f.target_count(), 0)
        self.assertEqual(f.stats().get("POST", 0), 0)
        f.patch_connection({"preferences": {"allowCreate": True}})
        f.wait_target_count(2)
        f.wait_status(lambda s: s["users"]["unsynced"] == 0 and s["users"]["success"] == 2,
                      what="unsynced cleared")

    def test_allow_update_off_counts_partially_synced(self):
        f = self.f
        uid = f.user("ada", POP)
        f.setup(population=POP, preferences={"allowUpdate": False})
        self.active("ada", True)
        f.patch_user(uid, {"title": "Changed"})
        f.wait_status(lambda s: s["users"]["partiallySynced"] == 1, what="1 partially synced")
        self.assertEqual(f.target_user("ada")["title"], "Engineer")
        self.assertEqual(f.stats().get("PATCH", 0) + f.stats().get("PUT", 0), 0)

    def test_allow_disable_off_leaves_the_account_active(self):
        f = self.f
        uid = f.user("ada", POP)
        f.setup(population=POP, preferences={"allowDisable": False})
        self.active("ada", True)
        f.patch_user(uid, {"enabled": False})
        # The engine decides about the change (the user's state moves on), sends nothing.
        wait_until(lambda: [r for r in f.rule_users() if r["username"] == "ada"
                            and r["state"] not in ("SYNCED", "PENDING")], timeout=WAIT,
                   what="the disable decision in the user's state")
        self.assertTrue(f.target_user("ada")["active"])
        self.assertEqual(f.stats().get("PATCH", 0) + f.stats().get("PUT", 0)
                         + f.stats().get("DELETE", 0), 0)


if __name__ == "__main__":
    unittest.main()
