# SPDX-License-Identifier: AGPL-3.0-or-later
# Rampart: the two commands (make run, make test) and the developer targets.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DATA       ?= var
LISTEN     ?= $(or $(RAMPART_LISTEN),127.0.0.1:8080)
FUZZ_SECONDS ?= 20

MESON_SETUP = meson setup --wrap-mode=nofallback

.PHONY: all deps build run test unit integration asan fuzz fuzz-smoke bench lint clean help

all: build

help:
	@echo "make run     install what is missing, build, start rampartd on $(LISTEN)"
	@echo "make test    install what is missing, build, run every test"
	@echo "make bench   benchmarks, printed as ratios against a peer"
	@echo "make fuzz    run every fuzz target for a while (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "make lint    banned calls, the include rule between folders, static analysis"

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	$(MESON_SETUP) $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	$(MAKE) -C web build

run: build
	@mkdir -p $(DATA)
	@echo ""
	@echo "  Rampart is starting on http://$(LISTEN)/  (data: $(DATA)/)"
	@echo "  Open the web console: http://$(LISTEN)/  (log in as admin)"
	@echo "  Log in with the CLI:  $(BUILD)/src/cli/rampart --server http://$(LISTEN) login admin"
	@echo "  or with curl:         curl -s http://$(LISTEN)/api/v1/auth/login -H 'Content-Type: application/json' \\"
	@echo "                          -d '{\"login\":\"admin\",\"password\":\"...\"}'"
	@echo "  Stop with Ctrl-C."
	@echo ""
	exec $(BUILD)/src/server/rampartd --data $(DATA) --listen $(LISTEN) --seed-hr examples/hr/sample-org.csv

# Everything this machine can run; one summary line at the end.
test: build
	@scripts/run-tests.sh

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build
	python3 tests/integration/run.py --build $(BUILD)

asan: deps
	@test -f $(ASAN_BUILD)/build.ninja || CC=clang $(MESON_SETUP) $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang $(MESON_SETUP) $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Db_lundef=false -Dbuildtype=debugoptimized

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	scripts/bench.sh $(BUILD)

lint:
	scripts/lint.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) test-output
