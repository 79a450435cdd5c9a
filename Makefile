# Two commands do everything: `make run` and `make test`. Both create the virtualenv on first use.
# .env (see .env.example) is read by the app itself; make reads it too, for the port.
-include .env
export

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= $(or $(RAKUTEN_APP_PORT),8501)

.DEFAULT_GOAL := help
.PHONY: help install run api test lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# Top-level packages are part of the editable install: a new one means reinstalling.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml $(wildcard */__init__.py)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

install: $(STAMP)  ## create the virtualenv and install everything

run: $(STAMP)  ## start the control room in local mode and print its URL
	@$(BIN)/python -m core.cli data import --if-empty
	@$(BIN)/python -m core.local_stack run

api: $(STAMP)  ## run the predictor API alone (RAKUTEN_API_URL says where; Ctrl-C stops it)
	@$(BIN)/python -m api

test: $(STAMP)  ## run the whole test suite (lint, unit, app, integration, browser)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

lint: $(STAMP)  ## lint and type-check only
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports --no-cache

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: $(STAMP)  ## run the benchmarks and rewrite docs/BENCHMARKS.md
	$(BIN)/python bench/data_lifecycle.py --write docs/BENCHMARKS.md

clean:  ## remove the virtualenv and runtime files
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
