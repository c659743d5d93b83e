-- wrk script for bench/sync.sh: every request is a POST /Users of a new user (a unique
-- userName per thread and request) with the attributes the seed's mapping sends, so a
-- target's own POST capacity is measured for the same kind of request the engine makes.
--   WRK_TOKEN=secret wrk -t1 -c16 -d10s -s bench/post-users.lua http://127.0.0.1:PORT/scim/v2
-- The URL is the SCIM base URL (the script appends /Users). The last line printed is
--   WRKRESULT <requests> <non-2xx> <socket errors> <duration in microseconds>
local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    n = 0
    bad = 0
    local base = wrk.path
    if base == nil or base == "" or base == "/" then
        base = "/scim/v2"
    end
    path = base:gsub("/$", "") .. "/Users"
    headers = {["Content-Type"] = "application/scim+json"}
    local token = os.getenv("WRK_TOKEN")
    if token and token ~= "" then
        headers["Authorization"] = "Bearer " .. token
    end
end

function request()
    n = n + 1
    local u = string.format("wrk%d.%d", tid, n)
    local body = string.format('{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
        '"userName":"%s","name":{"givenName":"Given%d","familyName":"Family",' ..
        '"formatted":"Given%d Family"},"nickName":"g%d","title":"Engineer",' ..
        '"userType":"Employee","externalId":"%s","active":true,' ..
        '"emails":[{"type":"work","value":"%s@example.com","primary":true}],' ..
        '"phoneNumbers":[{"type":"work","value":"+1 555 %07d"}],' ..
        '"addresses":[{"type":"work","streetAddress":"%d Main St","locality":"Springfield",' ..
        '"postalCode":"62701","country":"US"}]}', u, n, n, n, u, u, n % 10000000, n)
    return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRKRESULT %d %d %d %d\n", summary.requests, e.status,
        e.connect + e.read + e.write + e.timeout, summary.duration))
end
