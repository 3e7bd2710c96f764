# copyvault developer entry points. `make test` is the project's test command.
#
#   make setup    venv, npm packages, offline solc, anvil (toolchain/setup.sh; idempotent)
#   make test     compile the contracts and run the whole suite (tests/) with ape on anvil
#   make slither  Slither gate: fails on untriaged High/Medium findings (reports/ for details)
#   make lint     ruff check and format check
#   make gas-check  measure gas (bench/gas.py) and fail on a rise above bench/gas-snapshot.json
#   make demo     the end-to-end demo on a local chain, then the web app stays open (Ctrl-C ends;
#                 DEMO_FLAGS=--exit ends right after the journey)

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The venv first (python, ape, ruff and the anvil symlink that setup puts there), then npm tools.
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)

# ape-config.yaml makes foundry (anvil) the local provider; say so here too, explicitly.
APE_NETWORK ?= ethereum:local:foundry

.PHONY: help setup test slither lint demo gas-check

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

setup:
	bash toolchain/setup.sh

test: setup
	ape compile --force
	ape test --network $(APE_NETWORK)

slither: setup
	python toolchain/slither-gate.py

lint: setup
	ruff check .
	ruff format --check .

gas-check: setup
	ape compile
	python -m bench.gas --no-breakdown
	python -m bench.gas_snapshot check

demo: setup
	ape compile
	python -m scripts.demo $(DEMO_FLAGS)
