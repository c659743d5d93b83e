#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan into
# build-fuzz/, linking the sources of src/scim and src/base directly. With
# FUZZ_SECONDS=N set, also runs each target for N seconds on a scratch copy of its
# committed corpus (new inputs stay in build-fuzz/corpus/, never in the repository).
#   make fuzz                     build only
#   FUZZ_SECONDS=60 make fuzz     build and fuzz each target for a minute
set -euo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-clang}
OUT=build-fuzz
mkdir -p "$OUT"
if ! command -v "$CC" >/dev/null; then
    echo "fuzz: $CC not found (apt-get install clang libclang-rt-dev)" >&2
    exit 1
fi
CFLAGS="-std=c11 -g -O1 -D_GNU_SOURCE -Isrc -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  $(pkg-config --cflags jansson libsodium libxxhash)"
LIBS="$(pkg-config --libs jansson libsodium libxxhash) -lpthread -lm"
SRCS=$(ls src/scim/*.c src/base/*.c)
for h in tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c)
    echo "fuzz: building $OUT/$name"
    # shellcheck disable=SC2086
    $CC $CFLAGS -o "$OUT/$name" "$h" $SRCS $LIBS
done
if [ -n "${FUZZ_SECONDS:-}" ]; then
    for h in tests/fuzz/fuzz_*.c; do
        name=$(basename "$h" .c)
        work="$OUT/corpus/$name"
        mkdir -p "$work"
        cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
        echo "fuzz: running $name for ${FUZZ_SECONDS}s"
        "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 \
            -rss_limit_mb=1024 "$work"
    done
fi
