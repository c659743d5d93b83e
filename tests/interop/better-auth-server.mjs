// Better Auth with its SCIM plugin (@better-auth/scim) as a SCIM 2.0 service provider on
// 127.0.0.1, for scimitar's interoperability tests.
//
//   SCIM_TOKEN=secret node better-auth-server.mjs PORT [DB_PATH]
//
// PORT may also come from $PORT; DB_PATH (default: an in-memory SQLite database) is a
// better-sqlite3 file. The plugin authenticates a provisioning client by a static bearer
// credential of a code-defined connection (its documented `connections[].credentials`
// option); the token is taken from $SCIM_TOKEN so it stays out of `ps`. The schema is
// created with Better Auth's own migration plan (what `npx auth migrate` runs).
// Prints one line when it listens:
//   ready server=better-auth url=http://127.0.0.1:PORT/api/auth/scim/v2
import http from "node:http";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { scim } from "@better-auth/scim";

const port = Number(process.argv[2] ?? process.env.PORT);
const token = process.env.SCIM_TOKEN;
const dbPath = process.argv[3] ?? process.env.DB_PATH ?? ":memory:";
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !token) {
    console.error("usage: SCIM_TOKEN=TOKEN node better-auth-server.mjs PORT [DB_PATH]");
    process.exit(2);
}

const base = `http://127.0.0.1:${port}`;
const options = {
    baseURL: base,
    // Better Auth requires a secret for its own cookies and tokens; SCIM does not use it.
    secret: "scimitar-interop-test-secret-0123456789abcdef",
    database: new Database(dbPath),
    telemetry: { enabled: false },
    logger: { level: "error" },
    plugins: [scim({ connections: [{ id: "scimitar", credentials: [{ id: "interop", token }] }] })],
};
const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);

const server = http.createServer(toNodeHandler(auth));
server.keepAliveTimeout = 30000;
server.listen(port, "127.0.0.1", () => {
    console.log(`ready server=better-auth url=${base}/api/auth/scim/v2`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
