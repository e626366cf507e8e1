# The README's two commands are `make demo` and `make test`; the rest are steps of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROCLEDGER := $(BIN)/procledger
DEV := $(BIN)/procledger-dev
PYTEST_ARGS ?=
# The development passwords of the local stack apply only under this profile (README: Configuration).
export PROCLEDGER_PROFILE ?= local
PY_SOURCES := services dev tests setup.py schemas

.PHONY: demo test lint format unit integration e2e bootstrap venv stack-up stack-down stack-status bench chaos clean

# scripts/bootstrap.sh is the one set-up step: system packages (apt-get on Debian/Ubuntu,
# else the list to install) and the venv; it returns at once when nothing is missing.
bootstrap:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/bootstrap.sh

venv:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/bootstrap.sh venv

lint: venv
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format $(PY_SOURCES)
	$(BIN)/ruff check --fix $(PY_SOURCES)

stack-up: bootstrap
	$(DEV) stack up

stack-down: venv
	$(DEV) stack down

stack-status: venv
	$(DEV) stack status

test: bootstrap lint stack-up
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
