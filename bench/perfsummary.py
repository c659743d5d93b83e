"""Summarizes a `perf record -g` profile of `scimitar serve`: the samples by thread (the
engine's, the libcurl I/O thread of http/multi.c, the others), then the engine thread's by what the
time goes to, from the call stacks of `perf script` (one line per frame, leaf first):

  - stage: the engine step a sample is under (the first known frame from the root):
    the resync pass, starting jobs, moving bytes (libcurl), handling answers, flushing
    results;
  - owner: whose code runs, with libc (malloc, free, memcpy, ...) counted for the
    library or program that called it; the kernel counted apart; and the allocator's
    share by the same owners;
  - JSON: jansson's share by entry point (dump, free, build, parse) and by the scimitar
    function that called it;
  - SQLite: its share by the scimitar function that called it;
  - scimitar's own functions, inclusive (the time in them and below them).

    python3 bench/perfsummary.py perf.data [min-percent]
Prints text tables of percentages of all samples.
"""
import collections
import re
import subprocess
import sys

HEADER = re.compile(r"^\s*\d+\s+\d+\s*$")  # "tid period"
FRAME = re.compile(r"^\s*([0-9a-f]+) (.+?) \((.*)\)\s*$")

# Stages, looked for from the root down: the first that matches names the sample's stage.
STAGES = [
    ("engine__resyncs", "resync pass (directory digest, evaluate users, queue work)"),
    ("engine__resyncs_step", "resync pass (directory digest, evaluate users, queue work)"),
    ("lease_and_start", "start jobs (lease, read user and link, plan, map, build request)"),
    ("engine__job_start", "start jobs (lease, read user and link, plan, map, build request)"),
    ("finish", "handle answers (parse id, log entry, link, next step)"),
    ("run_done", "handle answers (parse id, log entry, link, next step)"),
    ("curl_multi_perform", "move bytes (libcurl and the kernel's socket calls)"),
    ("curl_multi_socket_action", "move bytes (libcurl and the kernel's socket calls)"),
    ("engine__flush", "flush results (SQLite writes and commit, free jobs)"),
]

JSON_ENTRY = [
    ("json_dumps", "dump to text (json_dumps)"),
    ("json_dumpb", "dump to text (json_dumps)"),
    ("json_loads", "parse (json_loads/loadb)"),
    ("json_loadb", "parse (json_loads/loadb)"),
    ("json_delete", "free (json_decref -> json_delete)"),
    ("json_deep_copy", "deep copy"),
    ("json_copy", "deep copy"),
    ("json_pack", "build (json_pack)"),
    ("json_vpack_ex", "build (json_pack)"),
    ("json_object_setn_new_nocheck", "build (json_object_set*, json_array_append*)"),
    ("json_object_setn_new", "build (json_object_set*, json_array_append*)"),
    ("json_object_set_new", "build (json_object_set*, json_array_append*)"),
    ("json_object_set_new_nocheck", "build (json_object_set*, json_array_append*)"),
    ("json_array_append_new", "build (json_object_set*, json_array_append*)"),
    ("json_array_insert_new", "build (json_object_set*, json_array_append*)"),
    ("json_object_update", "build (json_object_set*, json_array_append*)"),
    ("json_string", "build (json_string, json_object, json_array, ...)"),
    ("json_stringn", "build (json_string, json_object, json_array, ...)"),
    ("json_stringn_nocheck", "build (json_string, json_object, json_array, ...)"),
    ("json_object", "build (json_string, json_object, json_array, ...)"),
    ("json_array", "build (json_string, json_object, json_array, ...)"),
    ("json_integer", "build (json_string, json_object, json_array, ...)"),
    ("json_object_get", "look-up (json_object_get, json_object_iter*)"),
    ("json_object_getn", "look-up (json_object_get, json_object_iter*)"),
    ("json_object_iter", "look-up (json_object_get, json_object_iter*)"),
    ("json_object_iter_next", "look-up (json_object_get, json_object_iter*)"),
    ("json_equal", "compare (json_equal)"),
]

LIBC_OWN = ("libc.so", "ld-linux", "libm.so")
# glibc's allocator, as perf names its functions (leaf frames)
ALLOC = re.compile(r"^(_int_(malloc|free|realloc)\w*|malloc\w*|cfree\w*|free|realloc|calloc|"
                   r"unlink_chunk\S*|tcache\w*|__(GI___)?libc_(malloc|free|realloc|calloc)|"
                   r"__libc_(malloc|free|realloc|calloc)\w*)(@\S+)?$")


def frames_of(block):
    """[(symbol, dso)] leaf first; inlined frames get the dso of the frame they sit in."""
    out = []
    for line in block:
        m = FRAME.match(line)
        if not m:
            continue
        sym, dso = m.group(2), m.group(3)
        if sym.endswith(" (inlined)"):
            sym, dso = sym[: -len(" (inlined)")], None
        elif dso == "inlined":
            dso = None
        out.append([sym, dso])
    for i, f in enumerate(out):  # an inlined frame is inside the next real one (its caller)
        if f[1] is None:
            f[1] = next((g[1] for g in out[i + 1:] if g[1]), "?")
    return [(s, d.rsplit("/", 1)[-1]) for s, d in out]


def owner(frames):
    """Whose code a sample runs: the first frame from the leaf outside libc."""
    if not frames:
        return "?"
    if frames[0][1].startswith("[kernel"):
        return "kernel"
    for sym, dso in frames:
        if dso.startswith("[kernel"):
            continue
        if not dso.startswith(LIBC_OWN):
            return {"libjansson": "jansson (JSON)", "libsqlite3": "SQLite",
                    "libcurl": "libcurl", "scimitar": "scimitar"}.get(
                        dso.split(".so")[0], dso)
    return "libc"


def samples(data):
    out = subprocess.run(["perf", "script", "-i", data, "-F", "tid,period,ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    block = None
    for line in out.splitlines():
        if not line.strip():
            if block:
                yield block
            block = None
        elif not line.startswith(("\t", " ")) or block is None and line.strip():
            if block:
                yield block
            block = [line]
            if line.startswith(("\t", " ")):  # no header line
                block = [""] + [line]
        else:
            block.append(line)
    if block:
        yield block


def table(title, counter, total, limit):
    rows = ["## " + title, ""]
    for k, v in counter.most_common():
        pct = 100.0 * v / total
        if pct < limit:
            break
        rows.append("  %6.2f%%  %s" % (pct, k))
    return rows + [""]


def thread_role(names):
    """Which of serve's threads a sample's stack is from."""
    if "engine_main" in names:
        return "engine"
    if "io_main" in names:
        return "libcurl I/O (http/multi.c)"
    if "loader_main" in names:
        return "loader (provision/engine_load.c)"
    return None


def summarize(data, limit=0.5):
    stage, own, json_by, json_caller, sql_by, incl, alloc, io_own = (
        collections.Counter() for _ in range(8))
    by_tid, role_of = collections.Counter(), {}
    blocks = []
    for block in samples(data):
        frames = frames_of(block[1:])
        if not frames:
            continue
        tid = next((ln.split()[0] for ln in block[:2] if HEADER.match(ln)), "?")
        by_tid[tid] += 1
        role = thread_role([s for s, _ in frames])
        if role:
            role_of.setdefault(tid, role)
        blocks.append((tid, frames))
    everything = len(blocks)
    total = 0
    for tid, frames in blocks:
        role = role_of.get(tid, "other threads (API, ...)")
        if role != "engine":
            if role.startswith("libcurl"):
                io_own[owner(frames)] += 1
            continue
        total += 1
        names = [s for s, _ in frames]
        root_first = names[::-1]
        st = "other (engine loop, polling, outbox, events)"
        for key, label in STAGES:
            if key in root_first:
                st = label
                break
        stage[st] += 1
        o = owner(frames)
        own[o] += 1
        if ALLOC.match(frames[0][0]):
            alloc[o] += 1
        if "libjansson" in " ".join(d for _, d in frames):
            entry = next((lab for k, lab in JSON_ENTRY if k in names), None)
            if entry is None:
                js = next((s for s, d in frames if "libjansson" in d and not s.startswith("0x")),
                          "internal")
                entry = "other: " + js
            json_by[entry] += 1
            # jansson.h's inline json_decref, json_object_set, ... are not the caller
            json_caller[next((s for s, d in frames
                              if d == "scimitar" and not s.startswith("json_")), "?")] += 1
        if any("libsqlite3" in d for _, d in frames):
            caller = next((s for s, d in frames if d == "scimitar" and s.startswith(
                ("sqlite_", "store_", "sc_store"))), None) or next(
                    (s for s, d in frames if d == "scimitar"), "?")
            sql_by[caller] += 1
        for s in set(s for s, d in frames if d == "scimitar"):
            incl[s] += 1
    if not total:
        return "no samples\n"
    threads = collections.Counter()
    for tid, n in by_tid.items():
        threads[role_of.get(tid, "other threads (API, ...)")] += n
    text = ["%d samples of serve, %d of them of the engine thread; the tables after the "
            "first are percentages of the engine thread's samples." % (everything, total), ""]
    text += table("samples by thread (percentages of all of serve's)", threads, everything, 0)
    text += table("by engine stage", stage, total, 0)
    text += table("by whose code runs (libc's malloc/free/memcpy counted for its caller)",
                  own, total, 0)
    text += table("malloc and free (glibc's allocator, %.1f%% in all) by whose code called "
                  "them" % (100.0 * sum(alloc.values()) / total), alloc, total, 0)
    text += table("JSON (jansson, with the libc calls it makes) by entry point", json_by,
                  total, limit)
    text += table("JSON (jansson, with its libc calls) by the scimitar function that called it",
                  json_caller, total, limit)
    text += table("SQLite (with its libc calls) by the scimitar function that called it",
                  sql_by, total, limit)
    text += table("scimitar functions, inclusive (time in them and below them), >= 2%",
                  incl, total, 2.0)
    if io_own:
        text += table("the libcurl I/O thread by whose code runs (percentages of its own "
                      "samples)", io_own, sum(io_own.values()), 0)
    return "\n".join(text)


if __name__ == "__main__":
    print(summarize(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.5))
