#!/usr/bin/env bash
# Installs the Debian packages (and the npm packages of the browser tests) that
# building, testing and running scimitar need. Idempotent: installs only what is
# missing, so `make demo` and `make test` work on a fresh Debian 12 machine as root.
#   --test      also what the browser tests and the PostgreSQL runs of the tests need
#   --coverage  also gcovr (`make coverage` only; not needed by `make test`)
#   --bench     also what the scripts of bench/ use: wrk, nginx (bench/sync.sh's null
#               target, run by the script itself) and linux-perf (profiles); not needed
#               by `make test`
#   --package   also Debian's packaging tools (`make deb`); --test installs them too, for
#               the test that builds and installs the package
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config clang-format python3 curl
    libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev
    libsodium-dev libxxhash-dev libcmocka-dev libpcre2-dev libsystemd-dev)
package_pkgs=(dpkg-dev debhelper fakeroot lintian systemd adduser)
test_pkgs=(chromium nodejs npm g++ postgresql "${package_pkgs[@]}")
coverage_pkgs=(gcovr)
bench_pkgs=(wrk nginx linux-perf)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi
if [ "${1:-}" = "--coverage" ]; then want+=("${coverage_pkgs[@]}"); fi
if [ "${1:-}" = "--bench" ]; then want+=("${bench_pkgs[@]}"); fi
if [ "${1:-}" = "--package" ]; then want+=("${package_pkgs[@]}"); fi

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
    # npm packages of the browser tests and of the independent SCIM servers the
    # interoperability tests start (better-sqlite3 builds its native module with g++
    # against the installed node's headers): installed when missing or when the lock
    # file changed since the last install (npm keeps a copy in node_modules).
    for dir in tests/e2e tests/interop; do
        d="$here/$dir"
        [ -f "$d/package.json" ] || continue
        if [ ! -f "$d/node_modules/.package-lock.json" ] ||
            ! cmp -s <(node -e 'const l=require(process.argv[1]);console.log(JSON.stringify(Object.keys(l.packages).filter(k=>k).sort()))' "$d/package-lock.json") \
                     <(node -e 'const l=require(process.argv[1]);console.log(JSON.stringify(Object.keys(l.packages).filter(k=>k).sort()))' "$d/node_modules/.package-lock.json"); then
            (cd "$d" && npm install --no-audit --no-fund --silent)
        fi
    done
fi
