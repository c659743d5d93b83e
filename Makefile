# The commands a newcomer uses. Everything is built by CMake under build/ (and
# build-asan/ for the sanitizer run); this file only strings the steps together.
#   make          build build/scimitar
#   make test     everything CI checks: -Werror build, unit + integration + browser tests,
#                 the same under ASan+UBSan, and clang-format
#   make demo     the seed walkthrough on this machine (installs what is missing first)
#   make asan     ASan+UBSan build and test run
#   make format   rewrite the sources with clang-format
#   make fuzz     build the libFuzzer targets with clang (needs clang, libclang-rt-14-dev)

JOBS ?= $(shell nproc)
CTEST_ARGS ?=
SOURCES = $(shell git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null)

.PHONY: all build deps test-deps test unit asan format format-check demo fuzz bench clean

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

test: test-deps format-check
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCIMITAR_WERROR=ON >/dev/null
	cmake --build build -j $(JOBS)
	cd build && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	$(MAKE) --no-print-directory asan

asan: test-deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSCIMITAR_SANITIZE=ON -DSCIMITAR_E2E=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

format:
	clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run --Werror $(SOURCES) && echo "clang-format: clean"

demo: build
	./build/scimitar demo $(DEMO_ARGS)

fuzz:
	bash tests/fuzz/build.sh

bench: build
	bash bench/import.sh

clean:
	rm -rf build build-asan build-fuzz
