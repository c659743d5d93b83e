#!/usr/bin/env bash
# Throughput of `scimitar target` on loopback, measured with wrk: POST /Users (each
# request a new user) and GET /Users?filter=userName eq "..." (the look-up a
# provisioning engine sends before every create). Prints requests/s for each.
#   bench/target.sh                 # 10 s per phase, 2 wrk threads, 32 connections
#   DURATION=30 CONNECTIONS=64 bench/target.sh
#   SCIMITAR_BIN=build/scimitar TARGET_THREADS=2 bench/target.sh
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${SCIMITAR_BIN:-build/scimitar}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-2}
TARGET_THREADS=${TARGET_THREADS:-2}
SEED=${SEED:-1000}
TOKEN=bench-token

if ! command -v wrk >/dev/null; then
    echo "wrk is missing; installing it (Debian package wrk)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
if [ ! -x "$BIN" ]; then
    echo "building $BIN" >&2
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" --target scimitar >/dev/null
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT/scim/v2"
WORK=$(mktemp -d)
"$BIN" target --listen "127.0.0.1:$PORT" --token "$TOKEN" --threads "$TARGET_THREADS" \
    --log-level warn >"$WORK/target.log" 2>&1 &
TPID=$!
cleanup() { kill "$TPID" 2>/dev/null || true; wait "$TPID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 100); do
    curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/ServiceProviderConfig" && break
    sleep 0.1
done

# Users the filtered GETs look up, created in one /Bulk request.
python3 - "$SEED" >"$WORK/seed.json" <<'PY'
import json, sys
n = int(sys.argv[1])
ops = [{"method": "POST", "path": "/Users", "bulkId": "s%d" % i,
        "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                 "userName": "seed-%d" % i, "externalId": "ext-%d" % i,
                 "name": {"givenName": "Seed", "familyName": str(i)},
                 "emails": [{"type": "work", "value": "seed-%d@example.com" % i,
                             "primary": True}]}} for i in range(n)]
print(json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                  "Operations": ops}))
PY
curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/scim+json" \
    --data-binary @"$WORK/seed.json" "$BASE/Bulk"

cat >"$WORK/post.lua" <<'LUA'
local counter = 0
local threads = {}
function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end
function request()
    counter = counter + 1
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
        '"userName":"bench-' .. tid .. '-' .. counter .. '","active":true,' ..
        '"name":{"givenName":"Bench","familyName":"User"},' ..
        '"emails":[{"type":"work","value":"bench-' .. tid .. '-' .. counter ..
        '@example.com","primary":true}]}'
    return wrk.format("POST", nil, nil, body)
end
local bad = 0
function response(status)
    if status ~= 201 then bad = bad + 1 end
end
LUA
cat >"$WORK/get.lua" <<LUA
local n = $SEED
function request()
    local i = math.random(0, n - 1)
    return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22seed-" .. i .. "%22")
end
LUA

run() {
    local name=$1 script=$2 url=$3
    local out
    out=$(wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$script" \
        -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/scim+json" "$url")
    local rps lat non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    lat=$(awk '/ 99%/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '%-28s %10s requests/s   p99 %-8s non-2xx %s\n' "$name" "$rps" "$lat" "${non2xx:-0}"
}

echo "scimitar target on 127.0.0.1:$PORT: $TARGET_THREADS server threads; wrk $WRK_THREADS threads," \
    "$CONNECTIONS connections, ${DURATION}s per phase; $(nproc) CPUs," \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
run "POST /Users" "$WORK/post.lua" "$BASE/Users"
run "GET /Users?filter=userName eq" "$WORK/get.lua" "$BASE/Users"
curl -fs -H "Authorization: Bearer $TOKEN" "$BASE/_stats"
echo
