# SPDX-License-Identifier: Apache-2.0
# Convenience entry points over CMake presets. The two that matter (see the README):
#   make demo    set up, build (release) and run Clearway's main job
#   make check   set up, build (dev) and run every test
# Both run tools/setup/setup.sh first, which installs what is missing and skips what is there.

CLEARWAY := build/release/src/cli/clearway
DEMO_DB := var/clearway.db

.PHONY: all setup build demo check asan tsan fuzz format format-check clean help

all: build

help:
	@echo "make demo | check | asan | tsan | fuzz | format | format-check | setup | clean"

setup:
	tools/setup/setup.sh

build: setup
	cmake --preset release
	cmake --build --preset release

# The main job: `clearway serve` on a SQLite file in var/ (git-ignored), with the example
# configuration's ports and gates. It prints the URL and where the admin API key is, and serves
# until Ctrl-C.
demo: build
	mkdir -p var
	$(CLEARWAY) serve --db $(DEMO_DB) --config docs/clearway.example.json

check: setup
	cmake --preset dev
	cmake --build --preset dev
	ctest --preset dev

asan: setup
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan

# The concurrency tests (searches during gallery updates, the thread pool) under ThreadSanitizer.
tsan: setup
	cmake --preset tsan
	cmake --build --preset tsan
	ctest --preset tsan

# Builds the libFuzzer targets and replays their corpora; run one longer with e.g.
#   build/fuzz/tests/fuzz_log_spec -max_total_time=60
fuzz: setup
	cmake --preset fuzz
	cmake --build --preset fuzz
	ctest --preset fuzz

format:
	tools/format.sh

format-check:
	tools/format.sh --check

clean:
	rm -rf build
