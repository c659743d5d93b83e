-- wrk script for bench/inbound.sh: every request is a SCIM PATCH replacing the title of
-- one of the users in WRK_IDS (comma-separated ids, taken in turn), with a new value each
-- time, so every request is a real change of a directory row.
--   WRK_TOKEN=secret WRK_IDS=a,b,c wrk -t1 -c8 -d10s -s bench/patch-title.lua http://HOST:PORT/scim/v2
-- The last line printed is
--   WRKRESULT <requests> <non-2xx> <socket errors> <duration in microseconds>
local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    n = 0
    ids = {}
    for id in string.gmatch(os.getenv("WRK_IDS") or "", "[^,]+") do
        table.insert(ids, id)
    end
    local base = wrk.path
    if base == nil or base == "" or base == "/" then
        base = "/scim/v2"
    end
    prefix = base:gsub("/$", "") .. "/Users/"
    headers = {["Content-Type"] = "application/scim+json",
               ["Authorization"] = "Bearer " .. (os.getenv("WRK_TOKEN") or "")}
end

function request()
    n = n + 1
    local id = ids[(n + tid) % #ids + 1]
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
        '"Operations":[{"op":"Replace","path":"title","value":"t' .. tid .. '-' .. n .. '"}]}'
    return wrk.format("PATCH", prefix .. id, headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRKRESULT %d %d %d %d\n", summary.requests, e.status,
        e.connect + e.read + e.write + e.timeout, summary.duration))
end
