"""What the benchmark scripts of bench/ share: the machine they ran on, recording a
section of figures in bench/README.md (replacing the section of the same title), and the
provisioning benchmarks' users, CPU readings and propagation timing."""
import http.client
import json
import os
import platform
import re
import time
import urllib.parse


def machine():
    """ "2 CPUs (nproc), <model name>, <platform>" for the figures' heading."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs (nproc), %s, %s" % (os.cpu_count(), model, platform.platform())


def record(path, title, text):
    """Prints text (which starts with "## <title>") and writes it into the README at path
    in place of the section of that title, or at its end."""
    print(text)
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    m = re.search(r"^## %s\n.*?(?=^## |\Z)" % re.escape(title), old, flags=re.S | re.M)
    new = old[:m.start()] + text + "\n" + old[m.end():] if m else \
        old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)
    print("recorded in", path)


# ---- what the provisioning benchmarks share (sync.sh, cluster.sh) ----

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds process pid has used so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def thread_cpu_seconds(pid):
    """{thread name: user + system CPU seconds} of process pid's threads (names from
    /proc/PID/task/TID/comm; threads of one name summed)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def peak_rss_mb(pid):
    """Process pid's peak resident memory (VmHWM) in MiB."""
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024 if m else float("nan")


def user_body(i, population):
    """Directory user number i of the benchmarks (every field of the seed's mapping set)."""
    return {"username": "user%07d" % i, "name": {"given": "Given%d" % i, "family": "Family",
                                                 "formatted": "Given%d Family" % i},
            "nickname": "g%d" % i, "title": "Engineer", "type": "Employee",
            "email": "user%07d@example.com" % i, "primaryPhone": "+1 555 %07d" % i,
            "externalId": "E%07d" % i,
            "address": {"streetAddress": "%d Main St" % i, "locality": "Springfield",
                        "region": "IL", "postalCode": "62701", "countryCode": "US"},
            "population": {"name": population}}


class KeepAlive:
    """A keep-alive JSON client for one server's admin API."""

    def __init__(self, srv):
        self.srv = srv
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)

    def patch(self, uid, body):
        self.conn.request("PATCH", "/api/v1/users/" + uid, json.dumps(body),
                          {"Authorization": "Bearer " + self.srv.token,
                           "Content-Type": "application/json"})
        r = self.conn.getresponse()
        r.read()
        return r.status


def user_ids(f, count):
    """{username: id} of up to count directory users, read through Flow f's server."""
    out, cursor = {}, None
    while len(out) < count:
        path = "/api/v1/users?limit=1000"
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor)
        page = f.ok("GET", path)
        for u in page["items"]:
            out[u["username"]] = u["id"]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return out


def target_title(conn, name, token):
    """The title the target holds for userName name (conn: keep-alive to the target)."""
    q = urllib.parse.quote('userName eq "%s"' % name)
    conn.request("GET", "/scim/v2/Users?attributes=title&filter=" + q,
                 headers={"Authorization": "Bearer " + token})
    r = conn.getresponse()
    body = json.loads(r.read() or b"{}")
    res = body.get("Resources") or [{}]
    return res[0].get("title")


def one_change(cli, poll, token, uid, name, want, interval, limit=900, api=None):
    """Changes one user's title through cli (a KeepAlive); ms until a GET on the target
    (poll: keep-alive to it) shows it. Appends the ms the API call itself took (until
    its answer) to api when given."""
    t0 = time.monotonic()
    assert cli.patch(uid, {"title": want}) == 200
    if api is not None:
        api.append((time.monotonic() - t0) * 1000)
    while target_title(poll, name, token) != want:
        if time.monotonic() - t0 > limit:
            raise AssertionError("the change of %s to %r never arrived" % (name, want))
        time.sleep(interval)
    return (time.monotonic() - t0) * 1000


def latencies(srvs, tgt, ids, names, samples, tag, api=None):
    """Times single title changes from the API call until the target shows them (ms),
    polling the target every 2 ms over a keep-alive connection. Change k is made through
    srvs[k % len(srvs)] (several nodes of one database: each change through another);
    the API calls' own ms go to api when given."""
    clis = [KeepAlive(s) for s in srvs]
    poll = http.client.HTTPConnection("127.0.0.1", tgt.port, timeout=30)
    return [one_change(clis[k % len(clis)], poll, tgt.token, ids[names[k % len(names)]],
                       names[k % len(names)], "%s %d" % (tag, k), 0.002, api=api)
            for k in range(samples)]


def pct(xs, p):
    """The p-th percentile of xs (nearest rank; NaN when xs is empty)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")
