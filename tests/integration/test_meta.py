"""GET /api/v1/meta/attributes publishes the server's own tables (target aliases,
directory fields with the seed's display names, filter operators, expression
functions, the default mapping), and POST /api/v1/mappings/preview evaluates a mapping
source or a whole mapping for a real user: values, error positions, 404, 401."""
import os
import re
import subprocess
import unittest

from harness import BIN, Serve

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

# The seed's display names (SPEC §2), exactly as the console shows them.
SEED_NAMES = {
    "username": "Username", "name.given": "Given Name", "name.family": "Family Name",
    "name.formatted": "Formatted", "nickname": "Nickname", "title": "Title", "type": "Type",
    "email": "Email Address", "primaryPhone": "Primary Phone", "externalId": "External ID",
    "address.streetAddress": "Street Address", "address.locality": "Locality",
    "address.postalCode": "Postal Code", "address.countryCode": "Country Code",
    "population.name": "Population Name",
}


def c_alias_names():
    """The alias names of the C table in src/scim/alias.c, in table order."""
    with open(os.path.join(ROOT, "src", "scim", "alias.c"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("aliases[] = {"):text.index("};", text.index("aliases[] = {"))]
    return re.findall(r'^\s*\{"([A-Za-z]+)",', table, re.M)


class MetaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Serve().__enter__()
        st, pop, _ = cls.srv.api("POST", "/api/v1/populations", {"name": "Sales"})
        assert st == 201, pop
        st, cls.ada, _ = cls.srv.api("POST", "/api/v1/users", {
            "username": "ada", "name": {"given": "Ada", "family": "Lovelace"},
            "email": "Ada@Example.com", "primaryPhone": "+1 555 0100",
            "address": {"locality": "London", "countryCode": "GB"},
            "population": {"name": "Sales"}})
        assert st == 201, cls.ada

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def meta(self):
        st, body, _ = self.srv.api("GET", "/api/v1/meta/attributes")
        self.assertEqual(st, 200, body)
        return body

    def preview(self, body, token=None):
        return self.srv.api("POST", "/api/v1/mappings/preview", body, token=token)

    # ---- meta ------------------------------------------------------------------

    def test_lists_every_alias_of_the_c_table(self):
        names = c_alias_names()
        self.assertIn("workStreetAddeess", names)
        got = self.meta()["targetAttributes"]
        self.assertEqual([a["name"] for a in got], names)
        by = {a["name"]: a for a in got}
        self.assertEqual(by["workStreetAddeess"]["aliasOf"], "workStreetAddress")
        self.assertEqual(by["workStreetAddeess"]["path"], by["workStreetAddress"]["path"])
        self.assertIsNone(by["workStreetAddress"]["aliasOf"])
        self.assertEqual(by["workEmail"]["path"], 'emails[type eq "work"].value')
        self.assertTrue(by["department"]["path"].startswith(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"))
        for a in got:
            self.assertTrue(a["label"], a)

    def test_directory_fields_carry_the_seed_display_names(self):
        fields = {f["name"]: f for f in self.meta()["directoryFields"]}
        for name, label in SEED_NAMES.items():
            self.assertEqual(fields[name]["label"], label, name)
        self.assertTrue(fields["group"]["filter"])
        self.assertFalse(fields["group"]["source"])
        self.assertTrue(fields["group"]["scope"])
        self.assertTrue(fields["population.name"]["scope"])
        self.assertFalse(fields["username"]["scope"])

    def test_every_listed_field_is_accepted_where_it_says(self):
        """The table the API publishes is the one validation uses: every filter field
        compiles in a user filter, every source field parses as an expression."""
        for f in self.meta()["directoryFields"]:
            if f["filter"]:
                spec = {"match": "ALL", "conditions": [
                    {"attribute": f["name"], "operator": "IS_NOT_NULL"}]}
                st, body, _ = self.srv.api("POST", "/api/v1/groups",
                                           {"name": "g-" + f["name"], "userFilter": spec})
                self.assertEqual(st, 201, (f, body))
            st, body, _ = self.preview({"source": f["name"], "userId": self.ada["id"]})
            self.assertEqual(st, 200 if f["source"] else 400, (f, body))
        st, body, _ = self.srv.api("POST", "/api/v1/groups", {"name": "bad", "userFilter": {
            "match": "ALL", "conditions": [
                {"attribute": "shoeSize", "operator": "EQUALS", "value": "9"}]}})
        self.assertEqual(st, 400, body)

    def test_operators_and_functions(self):
        m = self.meta()
        ops = {o["name"]: o for o in m["filterOperators"]}
        self.assertEqual(list(ops), ["EQUALS", "NOT_EQUALS", "STARTS_WITH", "ENDS_WITH",
                                     "CONTAINS", "IN", "IS_NULL", "IS_NOT_NULL", "MATCHES"])
        self.assertEqual(ops["EQUALS"]["label"], "Equals")
        self.assertFalse(ops["IS_NULL"]["takesValue"])
        self.assertTrue(ops["IN"]["takesValue"])
        fns = {f["name"]: f for f in m["expressionFunctions"]}
        self.assertEqual(set(fns), {"lower", "upper", "trim", "coalesce", "replace",
                                    "substring", "join", "if", "switch"})
        self.assertEqual((fns["substring"]["minArgs"], fns["substring"]["maxArgs"]), (2, 3))
        self.assertIsNone(fns["coalesce"]["maxArgs"])
        # Each function's arity is what the parser enforces.
        for f in fns.values():
            args = ", ".join(["username"] * f["minArgs"])
            st, body, _ = self.preview({"source": f"{f['name']}({args})",
                                        "userId": self.ada["id"]})
            self.assertEqual(st, 200, (f, body))
            if f["minArgs"] > 1:
                fewer = ", ".join(["username"] * (f["minArgs"] - 1))
                st, body, _ = self.preview({"source": f"{f['name']}({fewer})",
                                            "userId": self.ada["id"]})
                self.assertEqual(st, 400, (f, body))

    def test_default_mappings_are_the_seeds_fourteen_rows(self):
        rows = self.meta()["defaultMappings"]
        self.assertEqual(len(rows), 14)
        self.assertEqual(rows[0], {"target": "userName", "source": "username"})
        self.assertIn({"target": "workStreetAddeess", "source": "address.streetAddress"}, rows)

    def test_routes_are_in_the_table_and_the_docs(self):
        out = subprocess.run([BIN, "serve", "--routes"], capture_output=True, text=True,
                             check=True).stdout
        with open(os.path.join(ROOT, "docs", "api.md"), encoding="utf-8") as f:
            doc = f.read()
        for method, path in [("GET", "/api/v1/meta/attributes"),
                             ("POST", "/api/v1/mappings/preview")]:
            self.assertRegex(out, rf"(?m)^{method}\s+{re.escape(path)}\s")
            self.assertRegex(doc, rf"(?m)^\| {method} \| {re.escape(path)} \|")

    def test_meta_needs_the_token(self):
        st, body, _ = self.srv.api("GET", "/api/v1/meta/attributes", token="wrong")
        self.assertEqual(st, 401, body)

    # ---- preview -----------------------------------------------------------------

    def test_preview_of_an_expression(self):
        st, body, _ = self.preview({"source": 'lower(name.given) + "." + name.family',
                                    "userId": self.ada["id"]})
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"value": "ada.Lovelace"})

    def test_preview_of_a_field_and_an_empty_one(self):
        st, body, _ = self.preview({"source": "population.name", "userId": self.ada["id"]})
        self.assertEqual((st, body), (200, {"value": "Sales"}))
        st, body, _ = self.preview({"source": "title", "userId": self.ada["id"]})
        self.assertEqual((st, body), (200, {"value": None}))

    def test_preview_error_has_the_position(self):
        st, body, _ = self.preview({"source": 'lower(name.given) + + "x"',
                                    "userId": self.ada["id"]})
        self.assertEqual(st, 400, body)
        err = body["error"]
        self.assertEqual(err["field"], "source")
        self.assertEqual(err["position"], 21)
        self.assertIn("at position 21", err["message"])
        st, body, _ = self.preview({"source": "lower(shoeSize)", "userId": self.ada["id"]})
        self.assertEqual(st, 400, body)
        self.assertEqual((body["error"]["field"], body["error"]["position"]), ("source", 7))

    def test_preview_unknown_user_is_404(self):
        st, body, _ = self.preview({"source": "username",
                                    "userId": "00000000-0000-4000-8000-000000000000"})
        self.assertEqual(st, 404, body)
        self.assertEqual(body["error"]["field"], "userId")

    def test_preview_bad_bodies(self):
        uid = self.ada["id"]
        for body, field in [({"source": "username"}, "userId"),
                            ({"userId": uid}, "source"),
                            ({"userId": uid, "source": ""}, "source"),
                            ({"userId": uid, "source": "username", "mappings": []}, "source"),
                            ({"userId": uid, "source": "username", "extra": 1}, "extra")]:
            st, got, _ = self.preview(body)
            self.assertEqual(st, 400, (body, got))
            self.assertEqual(got["error"]["field"], field, (body, got))

    def test_preview_needs_the_token(self):
        st, body, _ = self.preview({"source": "username", "userId": self.ada["id"]},
                                   token="wrong")
        self.assertEqual(st, 401, body)

    def test_preview_of_a_whole_mapping(self):
        rows = self.meta()["defaultMappings"] + [
            {"target": "department", "source": 'upper(population.name)'}]
        st, body, _ = self.preview({"mappings": rows, "userId": self.ada["id"]})
        self.assertEqual(st, 200, body)
        r = body["resource"]
        self.assertEqual(r["userName"], "ada")
        self.assertEqual(r["name"], {"givenName": "Ada", "familyName": "Lovelace"})
        self.assertEqual(r["emails"][0]["value"], "Ada@Example.com")
        self.assertEqual(r["emails"][0]["type"], "work")
        self.assertEqual(r["addresses"][0]["locality"], "London")
        self.assertEqual(r["addresses"][0]["country"], "GB")
        self.assertIs(r["active"], True)
        ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        self.assertIn(ent, r["schemas"])
        self.assertEqual(r[ent]["department"], "SALES")
        self.assertNotIn("title", r)

    def test_preview_of_a_bad_mapping_names_the_row(self):
        rows = [{"target": "userName", "source": "username"},
                {"target": "title", "source": 'trim(title'}]
        st, body, _ = self.preview({"mappings": rows, "userId": self.ada["id"]})
        self.assertEqual(st, 400, body)
        self.assertEqual(body["error"]["field"], "mappings[1].source")
        self.assertIn("position", body["error"])


if __name__ == "__main__":
    unittest.main()
