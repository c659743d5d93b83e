#!/usr/bin/env bash
# Installs the Debian packages (and the npm packages of the browser tests) that
# building, testing and running scimitar need. Idempotent: installs only what is
# missing, so `make demo` and `make test` work on a fresh Debian 12 machine as root.
#   --test      also what the browser tests need
#   --coverage  also gcovr (`make coverage` only; not needed by `make test`)
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config clang-format python3 curl
    libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev
    libsodium-dev libxxhash-dev libcmocka-dev libpcre2-dev)
test_pkgs=(chromium nodejs npm)
coverage_pkgs=(gcovr)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi
if [ "${1:-}" = "--coverage" ]; then want+=("${coverage_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere on the image; accept them if they run.
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
pkgs=()
for p in "${missing[@]}"; do [ -n "$p" ] && pkgs+=("$p"); done

if [ ${#pkgs[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing: ${pkgs[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
    here="$(cd "$(dirname "$0")/.." && pwd)"
    if [ -f "$here/tests/e2e/package.json" ] && [ ! -d "$here/tests/e2e/node_modules/playwright-core" ]; then
        (cd "$here/tests/e2e" && npm install --no-audit --no-fund --silent)
    fi
fi
