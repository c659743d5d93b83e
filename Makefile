# The commands a newcomer uses. Everything is built by CMake under build/ (and
# build-asan/ for the sanitizer run); this file only strings the steps together.
#   make          build build/scimitar
#   make test     everything CI checks: -Werror build, unit + integration + browser tests,
#                 the same under ASan+UBSan, and clang-format
#   make demo     the seed walkthrough on this machine (installs what is missing first)
#   make asan     ASan+UBSan build and test run
#   make coverage gcov build (build-cov/), the tests, and line and branch coverage per
#                 directory of src/ (not part of `make test`; see docs/testing.md)
#   make format   rewrite the sources with clang-format
#   make fuzz     build the libFuzzer targets with clang (needs clang, libclang-rt-14-dev)
#   make install  build/ with PREFIX (default /usr/local), installed under DESTDIR: the
#                 binary, scimitar(8), the systemd unit, the example configuration
#   make uninstall  remove what `make install` put there (an existing configuration stays)
#   make deb      the Debian package, built by dpkg-buildpackage into build-deb/

JOBS ?= $(shell nproc)
CTEST_ARGS ?=
SOURCES = $(shell git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null)

.PHONY: all build deps test-deps test unit asan coverage format format-check demo fuzz bench clean \
	install uninstall deb

PREFIX ?= /usr/local
DESTDIR ?=

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

# Coverage: its own build dir, counters reset, every test tier run once, then the report
# (build-cov/coverage.txt per file, build-cov/coverage.html, and the per-directory table
# printed here). A failing test still prints the report, then fails the target.
COVERAGE_E2E ?= ON
COVERAGE_AIM = src/provision,src/scim,src/target,src/api 90 80
coverage: test-deps
	@bash scripts/install-deps.sh --coverage
	cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=Debug -DSCIMITAR_COVERAGE=ON \
	  -DSCIMITAR_WERROR=ON -DSCIMITAR_E2E=$(COVERAGE_E2E) >/dev/null
	cmake --build build-cov -j $(JOBS)
	find build-cov -name '*.gcda' -delete
	cd build-cov && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS); echo $$? > ctest.rc
	gcovr -r . --object-directory build-cov --filter 'src/' -j $(JOBS) \
	  --txt build-cov/coverage.txt --html build-cov/coverage.html \
	  --json-summary build-cov/coverage.json
	@python3 scripts/coverage-summary.py build-cov/coverage.json --aim $(COVERAGE_AIM)
	@exit $$(cat build-cov/ctest.rc)

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

install: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build -j $(JOBS) --target scimitar
	DESTDIR=$(DESTDIR) cmake --install build

uninstall:
	@test -f build/install_manifest.txt || { echo "nothing installed from build/"; exit 1; }
	@while read -r f || [ -n "$$f" ]; do rm -fv "$(DESTDIR)$$f"; done < build/install_manifest.txt
	@rm -f build/install_manifest.txt

deb:
	@bash scripts/install-deps.sh --package
	bash scripts/build-deb.sh build-deb

clean:
	rm -rf build build-asan build-cov build-fuzz build-deb
