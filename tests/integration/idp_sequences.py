"""The request sequences two identity providers send to a SCIM service provider, in the
shapes their public documentation gives, step by step, each with the answer it needs:

- Microsoft Entra ID: the request/response pairs of "Tutorial: Develop and plan
  provisioning for a SCIM endpoint in Microsoft Entra ID" (user operations, group
  operations) and what its SCIM validator sends beside them (the enterprise manager as a
  bare id on create, on the extension's path and in a replace without path; a look-up by
  externalId; a replace without path whose keys are attribute paths);
- Okta: the "SCIM 2.0 protocol" guide's requests (look-up by userName with startIndex
  and count, create with "groups": [] and a password, duplicate create answered 409, PUT
  with id and readOnly members echoed back, deactivation by a PATCH without path, group
  PATCH of members by add, filtered remove and replace).

A sequence is a generator: it yields Step(name, method, path, body, status, check) and
receives the answer (status, body, headers); check(body) asserts on a successful answer.
replay() runs one against any SCIM base through a scim(method, path, body) callable, so
the same sequences drive `scimitar target` and scimitar serve's own /scim/v2."""
import collections
import urllib.parse
import uuid

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

Step = collections.namedtuple("Step", "name method path body status check")


def q(filter_text, **params):
    """A query string with a filter, percent-encoded as the IdPs send it."""
    items = [("filter", filter_text)] + list(params.items())
    return "?" + urllib.parse.urlencode(items, quote_via=urllib.parse.quote)


def patch(*ops):
    return {"schemas": [PATCHOP], "Operations": list(ops)}


def _is_list(total):
    def check(b):
        assert LIST in b["schemas"], b
        assert b["totalResults"] == total, b
        assert len(b.get("Resources", [])) == total, b
    return check


def _error(scim_type):
    def check(b):
        assert ERROR in b["schemas"], b
        assert b.get("scimType") == scim_type, b
    return check


def entra(tag=None):
    """Entra ID's user and group operations. tag makes the names unique per run."""
    tag = tag or uuid.uuid4().hex[:8]
    ext_id = str(uuid.uuid4())
    user_name = "Test_User_%s@testuser.com" % tag
    email = "Test_User_%s@testuser.com" % tag
    # -- user operations
    st, b, h = yield Step(
        "Create User", "POST", "/Users", {
            "schemas": [USER, ENT],
            "externalId": ext_id,
            "userName": user_name,
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": email}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName",
                     "givenName": "givenName"},
            "roles": [],
        }, 201, lambda b: (b["userName"] == user_name and b["active"] is True and
                           b["externalId"] == ext_id and b["id"]) or _fail(b))
    uid = b["id"]
    yield Step("Get User", "GET", "/Users/" + uid, None, 200,
               lambda b: (b["id"] == uid and b["emails"][0]["value"] == email) or _fail(b))
    yield Step("Get User by query", "GET", "/Users" + q('userName eq "%s"' % user_name), None,
               200, _is_list(1))
    yield Step("Get User by query - zero results", "GET",
               "/Users" + q('userName eq "non-existent user %s"' % tag), None, 200, _is_list(0))
    yield Step("Get User by externalId", "GET", "/Users" + q('externalId eq "%s"' % ext_id),
               None, 200, _is_list(1))
    yield Step(
        "Update User [Multi-valued properties]", "PATCH", "/Users/" + uid, patch(
            {"op": "Replace", "path": 'emails[type eq "work"].value',
             "value": "updatedEmail_%s@microsoft.com" % tag},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}), 200,
        lambda b: ([e["value"] for e in b["emails"] if e.get("type") == "work"] ==
                   ["updatedEmail_%s@microsoft.com" % tag] and
                   b["name"]["familyName"] == "updatedFamilyName") or _fail(b))
    new_name = "%s-5b50642d@testuser.com" % tag
    yield Step("Update User [Single-valued properties]", "PATCH", "/Users/" + uid,
               patch({"op": "Replace", "path": "userName", "value": new_name}), 200,
               lambda b: b["userName"] == new_name or _fail(b))
    yield Step("Replace without path, keys as paths", "PATCH", "/Users/" + uid,
               patch({"op": "Replace", "value": {"name.givenName": "Updated",
                                                 "displayName": "Updated User"}}), 200,
               lambda b: (b["name"]["givenName"] == "Updated" and
                          b["displayName"] == "Updated User") or _fail(b))
    # the manager (another user) as a bare id, three ways
    st, mgr, _ = yield Step(
        "Create manager with a bare manager id", "POST", "/Users", {
            "schemas": [USER, ENT], "userName": "Manager_%s@testuser.com" % tag,
            "externalId": str(uuid.uuid4()), "active": True,
            ENT: {"department": "Tour Operations", "manager": uid},
            "meta": {"resourceType": "User"}}, 201,
        lambda b: b[ENT]["manager"]["value"] == uid or _fail(b))
    mid = mgr["id"]
    yield Step("Add manager on the extension path", "PATCH", "/Users/" + uid,
               patch({"op": "Add", "path": ENT + ":manager", "value": mid}), 200,
               lambda b: b[ENT]["manager"]["value"] == mid or _fail(b))
    yield Step("Replace manager without path", "PATCH", "/Users/" + mid,
               patch({"op": "Replace", "value": {ENT + ":manager": mid}}), 200,
               lambda b: b[ENT]["manager"]["value"] == mid or _fail(b))
    yield Step("Disable User", "PATCH", "/Users/" + uid,
               patch({"op": "Replace", "path": "active", "value": False}), 200,
               lambda b: b["active"] is False or _fail(b))
    yield Step("Enable User (a string, as Entra's default)", "PATCH", "/Users/" + uid,
               patch({"op": "Replace", "path": "active", "value": "True"}), 200,
               lambda b: b["active"] is True or _fail(b))
    yield Step("Disable User (\"False\")", "PATCH", "/Users/" + uid,
               patch({"op": "Replace", "path": "active", "value": "False"}), 200,
               lambda b: b["active"] is False or _fail(b))
    # -- group operations
    gext = str(uuid.uuid4())
    gname = "displayName_%s" % tag
    st, g, _ = yield Step(
        "Create Group", "POST", "/Groups", {
            "schemas": [GROUP, ADSCIM_GROUP], "externalId": gext, "displayName": gname,
            "meta": {"resourceType": "Group"}}, 201,
        lambda b: (b["displayName"] == gname and b["externalId"] == gext and
                   b["schemas"] == [GROUP]) or _fail(b))
    gid = g["id"]
    yield Step("Get Group", "GET", "/Groups/%s?excludedAttributes=members" % gid, None, 200,
               lambda b: (b["id"] == gid and "members" not in b) or _fail(b))
    yield Step("Get Group by displayName", "GET",
               "/Groups" + q('displayName eq "%s"' % gname, excludedAttributes="members"),
               None, 200, _is_list(1))
    gname2 = "%s-updatedDisplayName" % tag
    yield Step("Update Group [Non-member attributes]", "PATCH", "/Groups/" + gid,
               patch({"op": "Replace", "path": "displayName", "value": gname2}), (200, 204),
               None)
    yield Step("Update Group [Add Members]", "PATCH", "/Groups/" + gid,
               patch({"op": "Add", "path": "members",
                      "value": [{"$ref": None, "value": uid}]}), (200, 204), None)
    yield Step("Get Group with members", "GET", "/Groups/" + gid, None, 200,
               lambda b: ([m["value"] for m in b["members"]] == [uid] and
                          b["displayName"] == gname2) or _fail(b))
    yield Step("Update Group [Remove Members]", "PATCH", "/Groups/" + gid,
               patch({"op": "Remove", "path": "members",
                      "value": [{"$ref": None, "value": uid}]}), (200, 204), None)
    yield Step("Get Group without members", "GET", "/Groups/" + gid, None, 200,
               lambda b: not b.get("members") or _fail(b))
    yield Step("Delete Group", "DELETE", "/Groups/" + gid, None, 204, None)
    yield Step("Delete User", "DELETE", "/Users/" + uid, None, 204, None)
    yield Step("Get deleted User", "GET", "/Users/" + uid, None, 404, None)
    yield Step("Delete manager", "DELETE", "/Users/" + mid, None, 204, None)


def okta(tag=None):
    """Okta's SCIM 2.0 user and group requests."""
    tag = tag or uuid.uuid4().hex[:8]
    login = "test.user.%s@okta.local" % tag
    okta_id = "00u%s" % tag
    body = {
        "schemas": [USER], "userName": login,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": login, "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": okta_id,
        "groups": [], "password": "1mz050nq", "active": True,
    }
    yield Step("Look up the user", "GET",
               "/Users" + q('userName eq "%s"' % login, startIndex="1", count="100"), None, 200,
               _is_list(0))
    st, u, _ = yield Step("Create the user", "POST", "/Users", body, 201,
                          lambda b: (b["userName"] == login and "password" not in b and
                                     b["active"] is True) or _fail(b))
    uid = u["id"]
    yield Step("Create the user again", "POST", "/Users", body, 409, _error("uniqueness"))
    st, got, _ = yield Step("Retrieve the user", "GET", "/Users/" + uid, None, 200,
                            lambda b: b["id"] == uid or _fail(b))
    put = dict(got)
    put.update({"name": {"givenName": "Another", "familyName": "User"},
                "displayName": "Another User", "groups": [], "password": "1mz050nq"})
    yield Step("Update the user (PUT)", "PUT", "/Users/" + uid, put, 200,
               lambda b: (b["name"]["givenName"] == "Another" and
                          b["displayName"] == "Another User") or _fail(b))
    yield Step("Deactivate the user", "PATCH", "/Users/" + uid,
               patch({"op": "replace", "value": {"active": False}}), 200,
               lambda b: b["active"] is False or _fail(b))
    yield Step("Reactivate the user", "PATCH", "/Users/" + uid,
               patch({"op": "replace", "value": {"active": True}}), 200,
               lambda b: b["active"] is True or _fail(b))
    yield Step("Change the password", "PATCH", "/Users/" + uid,
               patch({"op": "replace", "value": {"password": "t1meMa$heen"}}), 200,
               lambda b: "password" not in b or _fail(b))
    yield Step("List users (import)", "GET", "/Users?startIndex=1&count=100", None, 200,
               lambda b: (LIST in b["schemas"] and b["totalResults"] >= 1) or _fail(b))
    # -- groups
    gname = "Test SCIMv2 %s" % tag
    yield Step("Look up the group", "GET",
               "/Groups" + q('displayName eq "%s"' % gname, startIndex="1", count="100"), None,
               200, _is_list(0))
    st, g, _ = yield Step("Create the group", "POST", "/Groups",
                          {"schemas": [GROUP], "displayName": gname, "members": []}, 201,
                          lambda b: b["displayName"] == gname or _fail(b))
    gid = g["id"]
    yield Step("Retrieve the group", "GET", "/Groups/" + gid, None, 200,
               lambda b: b["id"] == gid or _fail(b))
    gname2 = gname + " renamed"
    yield Step("Rename the group", "PATCH", "/Groups/" + gid,
               patch({"op": "replace", "value": {"id": gid, "displayName": gname2}}), 200,
               lambda b: b["displayName"] == gname2 or _fail(b))
    yield Step("Add a member", "PATCH", "/Groups/" + gid,
               patch({"op": "add", "path": "members",
                      "value": [{"value": uid, "display": login}]}), (200, 204), None)
    yield Step("Retrieve the group with its member", "GET", "/Groups/" + gid, None, 200,
               lambda b: [m["value"] for m in b["members"]] == [uid] or _fail(b))
    yield Step("Remove the member", "PATCH", "/Groups/" + gid,
               patch({"op": "remove", "path": 'members[value eq "%s"]' % uid}), (200, 204),
               None)
    yield Step("Replace the members", "PATCH", "/Groups/" + gid,
               patch({"op": "replace", "path": "members",
                      "value": [{"value": uid, "display": login}]}), (200, 204), None)
    yield Step("Retrieve the group after the replace", "GET", "/Groups/" + gid, None, 200,
               lambda b: [m["value"] for m in b["members"]] == [uid] or _fail(b))
    yield Step("Delete the group", "DELETE", "/Groups/" + gid, None, 204, None)


def _fail(b):
    raise AssertionError("unexpected body: %r" % (b,))


def replay(test, scim, sequence):
    """Runs sequence against scim(method, path, body) -> (status, body, headers),
    asserting each step's status and body in test (a unittest.TestCase). Returns the
    number of steps run."""
    n = 0
    answer = None
    while True:
        try:
            step = sequence.send(answer) if n else next(sequence)
        except StopIteration:
            return n
        n += 1
        st, body, headers = scim(step.method, step.path, step.body)
        want = step.status if isinstance(step.status, tuple) else (step.status,)
        with test.subTest(step=step.name):
            test.assertIn(st, want, "step %d %r: %s %s answered %s: %r" % (
                n, step.name, step.method, step.path, st, body))
            if step.check and body is not None:
                step.check(body)
        if st not in want:
            raise AssertionError("step %d %r failed; the sequence stops" % (n, step.name))
        answer = (st, body, headers)
