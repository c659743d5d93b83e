// SCIMMY (scimmy + scimmy-routers on Express) as a SCIM 2.0 service provider on 127.0.0.1,
// for scimitar's interoperability tests.
//
//   SCIM_TOKEN=secret node scimmy-server.mjs PORT [--core-only] [--groups]
//
// PORT may also come from $PORT. Users live in memory. The standard User resource is
// declared with the Enterprise User extension (optional), as SCIMMY offers it;
// --core-only leaves the extension out (a target without the enterprise schema).
// --groups also declares the standard Group resource, kept in memory as strictly as an
// identity application would: displayName unique (case-insensitively, 409 "uniqueness"),
// every member the id of an existing user or group (400 "invalidValue"), a member
// listed once; deleting a user drops it from every group.
//
// SCIMMY leaves storage to the application's ingress/egress/degress handlers. The ones
// below are deliberately plain, so that what is tested is the library: its schema
// coercion and validation, its PATCH (SCIMMY.Messages.PatchOp: read, apply, write back
// through ingress), its filter matching (resource.filter.match) and its ListResponse
// paging. The handlers add only what the library asks the application for: ids and
// meta timestamps, 404 for unknown ids, and userName uniqueness (409 "uniqueness",
// compared case-insensitively: userName is caseExact false in RFC 7643 §4.1.1).
// Prints one line when it listens:
//   ready server=scimmy url=http://127.0.0.1:PORT/scim/v2
import crypto from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const args = process.argv.slice(2);
const coreOnly = args.includes("--core-only");
const withGroups = args.includes("--groups");
const port = Number(args.find((a) => !a.startsWith("--")) ?? process.env.PORT);
const token = process.env.SCIM_TOKEN;
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !token) {
    console.error("usage: SCIM_TOKEN=TOKEN node scimmy-server.mjs PORT [--core-only]");
    process.exit(2);
}

const users = new Map(); // id -> stored resource (plain JSON), in creation order

// The stored form of a coerced SCIMMY.Schemas.User instance: its JSON.
const plain = (instance) => JSON.parse(JSON.stringify(instance));

function sameUserName(a, b) {
    return String(a).toLowerCase() === String(b).toLowerCase();
}

const declaration = coreOnly ? {} : { extensions: [{ schema: SCIMMY.Schemas.EnterpriseUser, required: false }] };
SCIMMY.Resources.declare(SCIMMY.Resources.User, declaration);
SCIMMY.Resources.User.ingress((resource, instance) => {
    const data = plain(instance);
    delete data.schemas;
    delete data.meta;
    delete data.id;
    for (const [id, u] of users) {
        if (id !== resource.id && sameUserName(u.userName, data.userName)) {
            throw new SCIMMY.Types.Error(409, "uniqueness", `userName '${data.userName}' is already taken`);
        }
    }
    const now = new Date().toISOString();
    if (resource.id) {
        const old = users.get(resource.id);
        if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        const next = { ...data, id: resource.id, meta: { created: old.meta.created, lastModified: now } };
        users.set(resource.id, next);
        return next;
    }
    const id = crypto.randomUUID();
    const created = { ...data, id, meta: { created: now, lastModified: now } };
    users.set(id, created);
    return created;
});
SCIMMY.Resources.User.egress((resource) => {
    if (resource.id) {
        const u = users.get(resource.id);
        if (!u) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        return u;
    }
    const all = [...users.values()];
    return resource.filter ? resource.filter.match(all) : all;
});
SCIMMY.Resources.User.degress((resource) => {
    if (!users.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    for (const g of groups.values()) g.members = (g.members ?? []).filter((m) => m.value !== resource.id);
});

const groups = new Map(); // id -> stored group (plain JSON), in creation order
if (withGroups) {
    SCIMMY.Resources.declare(SCIMMY.Resources.Group);
    SCIMMY.Resources.Group.ingress((resource, instance) => {
        const data = plain(instance);
        delete data.schemas;
        delete data.meta;
        delete data.id;
        for (const [id, g] of groups) {
            if (id !== resource.id && sameUserName(g.displayName, data.displayName)) {
                throw new SCIMMY.Types.Error(409, "uniqueness", `displayName '${data.displayName}' is already taken`);
            }
        }
        const seen = new Set();
        const members = [];
        for (const m of data.members ?? []) {
            if (!users.has(m.value) && !groups.has(m.value)) {
                throw new SCIMMY.Types.Error(400, "invalidValue", `member '${m.value}' is not the id of a user or group`);
            }
            if (m.value === resource.id) throw new SCIMMY.Types.Error(400, "invalidValue", "a group cannot be a member of itself");
            if (seen.has(m.value)) continue;
            seen.add(m.value);
            members.push({ ...m, type: m.type ?? (users.has(m.value) ? "User" : "Group") });
        }
        data.members = members;
        const now = new Date().toISOString();
        if (resource.id) {
            const old = groups.get(resource.id);
            if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            const next = { ...data, id: resource.id, meta: { created: old.meta.created, lastModified: now } };
            groups.set(resource.id, next);
            return next;
        }
        const id = crypto.randomUUID();
        const created = { ...data, id, meta: { created: now, lastModified: now } };
        groups.set(id, created);
        return created;
    });
    SCIMMY.Resources.Group.egress((resource) => {
        if (resource.id) {
            const g = groups.get(resource.id);
            if (!g) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            return g;
        }
        const all = [...groups.values()];
        return resource.filter ? resource.filter.match(all) : all;
    });
    SCIMMY.Resources.Group.degress((resource) => {
        if (!groups.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    });
}

const app = express();
app.use(
    "/scim/v2",
    new SCIMMYRouters({
        type: "bearer",
        handler: (req) => {
            const got = req.header("Authorization")?.match(/^Bearer\s+(.+)$/i)?.[1] ?? "";
            const a = Buffer.from(got);
            const b = Buffer.from(token);
            if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) throw new Error("Invalid bearer token");
            return "scimitar";
        },
    }),
);
const server = app.listen(port, "127.0.0.1", () => {
    console.log(`ready server=scimmy url=http://127.0.0.1:${port}/scim/v2`);
});
server.keepAliveTimeout = 30000;
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
