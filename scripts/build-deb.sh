#!/usr/bin/env bash
# Builds the Debian package from the working tree (committed or not) without writing
# into it: the tracked and untracked-but-not-ignored files are copied to
# OUT/scimitar/, dpkg-buildpackage -us -uc -b runs there, and the .deb, .buildinfo
# and .changes land in OUT/. lintian then checks the .changes (its tags are printed;
# docs/operations.md explains those that remain). Usage: build-deb.sh OUT
set -euo pipefail

out="${1:?usage: build-deb.sh OUT}"
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
src="$out/scimitar"
rm -rf "$src" "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
(cd "$here" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -C "$src" -xf -

(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)")
ls "$out"/*.deb
if command -v lintian >/dev/null; then
    lintian --info --display-info "$out"/*.changes || true
fi
