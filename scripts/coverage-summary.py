#!/usr/bin/env python3
"""Prints line and branch coverage per directory of src/ from a gcovr JSON summary
(gcovr --json-summary), and the total. `make coverage` runs it.

    coverage-summary.py build-cov/coverage.json [--aim src/provision,src/scim 90 80]

With --aim DIRS LINES BRANCHES it marks the named directories that are below the aim
(percentages), and exits 0 anyway: the figures are information, not a gate."""
import json
import os
import sys


def pct(covered, total):
    return 100.0 * covered / total if total else 100.0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        data = json.load(f)
    aim_dirs, aim_lines, aim_branches = set(), 0.0, 0.0
    if len(argv) >= 6 and argv[2] == "--aim":
        aim_dirs = set(argv[3].split(","))
        aim_lines, aim_branches = float(argv[4]), float(argv[5])
    dirs = {}
    for fe in data.get("files", []):
        name = fe["filename"]
        if not name.startswith("src/"):
            continue
        d = os.path.dirname(name)
        acc = dirs.setdefault(d, [0, 0, 0, 0])
        acc[0] += fe["line_covered"]
        acc[1] += fe["line_total"]
        acc[2] += fe["branch_covered"]
        acc[3] += fe["branch_total"]
    tot = [sum(v[i] for v in dirs.values()) for i in range(4)]
    print("%-16s %17s %19s" % ("directory", "lines", "branches"))
    for d in sorted(dirs):
        lc, lt, bc, bt = dirs[d]
        mark = ""
        if d in aim_dirs and (pct(lc, lt) < aim_lines or pct(bc, bt) < aim_branches):
            mark = "  below the aim (%g%% lines, %g%% branches)" % (aim_lines, aim_branches)
        print("%-16s %6.1f%% %4d/%-5d %6.1f%% %5d/%-5d%s" % (
            d, pct(lc, lt), lc, lt, pct(bc, bt), bc, bt, mark))
    print("%-16s %6.1f%% %4d/%-5d %6.1f%% %5d/%-5d" % (
        "src (total)", pct(tot[0], tot[1]), tot[0], tot[1], pct(tot[2], tot[3]), tot[2],
        tot[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
