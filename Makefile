# The README's two commands are `make demo` and `make test`; the rest are steps of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROCLEDGER := $(BIN)/procledger
PYTEST_ARGS ?=

.PHONY: demo test lint format unit integration e2e stack-up stack-down stack-status bench chaos clean

$(BIN)/procledger: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/procledger

lint: venv
	$(BIN)/ruff check services tests
	$(BIN)/ruff format --check services tests
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format services tests
	$(BIN)/ruff check --fix services tests

stack-up: venv
	$(PROCLEDGER) stack up

stack-down: venv
	$(PROCLEDGER) stack down

stack-status: venv
	$(PROCLEDGER) stack status

test: lint stack-up
	$(BIN)/pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv stack-up
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

e2e: venv stack-up
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

demo: stack-up
	$(BIN)/python -m procledger.demo

bench: stack-up
	$(BIN)/python -m procledger.bench

chaos: stack-up
	PROCLEDGER_CHAOS=full PROCLEDGER_RELIABILITY_REPORT=docs/reliability.md $(BIN)/pytest tests/e2e -m chaos $(PYTEST_ARGS)

clean: stack-down
	rm -rf var $(VENV)
