# The README's two commands are `make demo` and `make test`; the rest are steps of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROCLEDGER := $(BIN)/procledger
DEV := $(BIN)/procledger-dev
PYTEST_ARGS ?=

.PHONY: demo test lint format unit integration e2e stack-up stack-down stack-status bench chaos clean

$(BIN)/procledger: pyproject.toml dev/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]" -e ./dev
	touch $@

venv: $(BIN)/procledger

lint: venv
	$(BIN)/ruff check services dev tests
	$(BIN)/ruff format --check services dev tests
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format services dev tests
	$(BIN)/ruff check --fix services dev tests

stack-up: venv
	$(DEV) stack up

stack-down: venv
	$(DEV) stack down

stack-status: venv
	$(DEV) stack status

test: lint stack-up
	$(BIN)/pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv stack-up
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

e2e: venv stack-up
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

demo: stack-up
	$(BIN)/python -m procledger_dev.demo

bench: stack-up
	$(BIN)/python -m procledger_dev.bench

chaos: stack-up
	PROCLEDGER_CHAOS=full PROCLEDGER_RELIABILITY_REPORT=docs/reliability.md $(BIN)/pytest tests/e2e -m chaos $(PYTEST_ARGS)

clean: stack-down
	rm -rf var $(VENV)
