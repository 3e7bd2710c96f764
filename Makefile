# copyvault developer entry points. `make test` is the project's test command.
#
#   make setup    venv, npm packages, offline solc, anvil (toolchain/setup.sh; idempotent)
#   make build    compile the contracts when their sources or compiler settings changed
#   make test     build, then run the suite with ape on anvil (TESTS="paths -k expr" for a part)
#   make test-lane-NAME  one lane of the suite (contracts, services, platform: toolchain/lanes.py)
#   make screenshots  the browser tests, refreshing the committed docs/screenshots
#   make gas-report  the venue tests under `ape test --gas` (Ape's gas report path, in CI)
#   make slither  Slither gate: fails on untriaged High/Medium findings (reports/ for details)
#   make lint     ruff check and format check
#   make gas-check  measure gas (bench/gas.py) and fail on a rise above bench/gas-snapshot.json
#   make demo     the end-to-end demo on a local chain, then the web app stays open (Ctrl-C ends;
#                 DEMO_FLAGS=--exit ends right after the journey)
#   make outdated  list pinned Python and npm dependencies with newer releases

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The venv first (python, ape, ruff and the anvil symlink that setup puts there), then npm tools.
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)

# What `make test` runs (default: the whole suite, tests/), and how long anvil may take to start
# on a busy machine (Ape itself allows 20 s); see toolchain/run_tests.py.
TESTS ?=
ANVIL_START_TIMEOUT ?= 180
# Ape's gas report path (`ape test --gas`) on tests with reverting views, in about a minute. The
# router's tests are far slower traced (test_mirror_batch.py alone: 14 tests in 6 minutes).
GAS_REPORT_TESTS ?= tests/contracts/venue

.PHONY: help setup build test screenshots gas-report slither lint demo gas-check outdated

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

setup:
	bash toolchain/setup.sh

# Compiles only when contracts/, ape-config.yaml, package-lock.json or the solc adapter changed.
build: setup
	python toolchain/build.py

# Ape on an anvil that toolchain/run_tests.py starts (and stops, also on Ctrl-C). The whole suite
# runs as three lanes side by side (toolchain/lanes.py says which tests and why), each an Ape
# session on an anvil of its own; each lane's output is printed whole when the lane ends (make -O).
RUN_TESTS := python toolchain/run_tests.py --anvil-timeout $(ANVIL_START_TIMEOUT)
LANES := contracts services platform

test: build
ifeq ($(strip $(TESTS)),)
	@echo "make test: lanes $(LANES) side by side; each prints its output when it ends"
	@$(MAKE) --no-print-directory -j3 --output-sync=target $(addprefix test-lane-,$(LANES))
else
	$(RUN_TESTS) -- $(TESTS)
endif

# One lane (`make test` runs them all; `make test-lane-services` reruns one). --durations: each
# lane's slowest tests in every CI log, for whoever next has to make the suite faster.
test-lane-%:
	$(RUN_TESTS) --lane $* -- --durations=15

# The browser tests with UPDATE_SCREENSHOTS=1: they refresh docs/screenshots (tests/web/conftest.py).
screenshots: build
	UPDATE_SCREENSHOTS=1 $(RUN_TESTS) -- tests/web

gas-report: build
	$(RUN_TESTS) -- --gas $(GAS_REPORT_TESTS)

slither: setup
	python toolchain/slither-gate.py

lint: setup
	ruff check .
	ruff format --check .

gas-check: build
	python -m bench.gas --no-breakdown
	python -m bench.gas_snapshot check

demo: build
	python -m scripts.demo $(DEMO_FLAGS)

outdated: setup
	python toolchain/outdated.py
