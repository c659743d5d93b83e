"""The seed's flow against a SCIM 1.1 target (`scimitar target --scim-version 1.1`, strict:
it refuses 2.0 bodies and URNs): a connection with SCIM Version 1.1 speaks the 1.1
dialect for every call: create, look-up and link, update (1.1 PATCH with meta.attributes
and operation delete), disable and re-enable, scope exit and re-entry."""
import unittest

from harness import Serve, Target, wait_until
from seedflow import Flow, WAIT, started, work

POP = "Code42 Users"


class Scim11Flow(unittest.TestCase):

    def setUp(self):
        self.tgt = started(self, Target(token="t11", no_delete=True,
                                        extra=["--scim-version", "1.1"]))
        self.tgt.scim_base = self.tgt.base + "/scim/v1"
        self.srv = started(self, Serve())
        self.f = Flow(self.srv, self.tgt)

    def users(self):
        return {u["username"]: u for u in self.f.rule_users()}

    def test_seed_flow_in_scim_11(self):
        f = self.f
        f.population("Other")
        # one account exists already with only a userName (1.1 shape)
        st, body, _ = self.tgt.scim("POST", "/Users", {
            "schemas": ["urn:scim:schemas:core:1.0"], "userName": "ada"})
        self.assertEqual(st, 201, body)
        for n in ("ada", "bob"):
            f.user(n, POP)
        f.setup(population=POP, scim={"version": "1.1"})
        wait_until(lambda: len(self.users()) == 2 and
                   all(u["state"] == "SYNCED" for u in self.users().values()),
                   timeout=WAIT, what="both SYNCED")
        ada, bob = f.target_user("ada"), f.target_user("bob")
        person = f.person("ada", POP)
        self.assertEqual(ada["schemas"], ["urn:scim:schemas:core:1.0"])
        self.assertEqual(ada["name"]["givenName"], person["name"]["given"])
        self.assertEqual(work(ada["emails"]), person["email"])
        self.assertEqual(work(ada["addresses"], "locality"), "Springfield")
        self.assertEqual(bob["title"], "Engineer")
        self.assertEqual(f.target_count(), 2)
        # an update: the title changes, the work phone is cleared, the city moves
        uid = f.user_id("bob")
        f.patch_user(uid, {"title": "Chief", "primaryPhone": None,
                           "address": {"locality": "Shelbyville"}})
        wait_until(lambda: f.target_user("bob").get("title") == "Chief", timeout=WAIT,
                   what="bob's new title")
        bob = wait_until(lambda: (lambda b: b if work(b.get("addresses"), "locality") ==
                                  "Shelbyville" else None)(f.target_user("bob")),
                         timeout=WAIT, what="bob's new city")
        self.assertIsNone(work(bob.get("phoneNumbers")))
        self.assertEqual(len([a for a in bob["addresses"] if a.get("type") == "work"]), 1)
        # disabled in the directory: active false (no DELETE under Disable)
        f.patch_user(uid, {"enabled": False})
        wait_until(lambda: f.target_user("bob")["active"] is False, timeout=WAIT,
                   what="bob disabled")
        # scope exit and re-entry: disabled, then active again, same account
        f.patch_user(uid, {"enabled": True})
        wait_until(lambda: f.target_user("bob")["active"] is True, timeout=WAIT,
                   what="bob enabled")
        aid = f.user_id("ada")
        f.patch_user(aid, {"population": {"name": "Other"}})
        wait_until(lambda: f.target_user("ada").get("active") is False, timeout=WAIT,
                   what="ada out of scope")
        f.patch_user(aid, {"population": {"name": POP}})
        wait_until(lambda: f.target_user("ada").get("active") is True, timeout=WAIT,
                   what="ada back")
        self.assertEqual(f.target_count(), 2)
        self.assertEqual(f.stats().get("DELETE", 0), 0)
        failed = f.logs(status="FAILED")
        self.assertEqual(failed, [])


if __name__ == "__main__":
    unittest.main()
