#!/usr/bin/env bash
# Group provisioning at scale (not a timed test): GROUPS_GROUPS groups (default 1,000)
# with GROUPS_MEMBERSHIPS direct memberships (100,000) of GROUPS_USERS users (10,000) in
# the directory; the users are provisioned first, then the rule's group section is
# enabled and the time until every group and membership is on `scimitar target` is
# measured (with serve's CPU and the requests by method); then GROUPS_SAMPLES (200)
# single membership changes, each an add then a removal through the API, are timed until
# the target's group shows them (p50/p90/p99). Records "## Groups" in bench/README.md.
#
#   bash bench/groups.sh
#   GROUPS_GROUPS=100 GROUPS_MEMBERSHIPS=10000 GROUPS_USERS=2000 bash bench/groups.sh
#   GROUPS_PER_REQUEST=100                    # the section's membersPerRequest
#   GROUPS_RECORD=0                           # print the figures, leave README.md alone
#   SCIMITAR_BIN=build/scimitar
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SCIMITAR_BIN="${SCIMITAR_BIN:-$ROOT/build/scimitar}"
unset SCIMITAR_TEST_DB # SQLite
exec python3 "$ROOT/bench/groups.py" "$ROOT"
