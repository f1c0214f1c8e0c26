# vm-api: `make run` installs and starts the service; `make test` is what CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-postgres lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs the package (not editable) and starts the API and the worker on the embedded
# defaults; VM_API_* variables in the environment override them. Ctrl-C stops both.
# The dashboard's xterm.js comes from the npm registry first (`npm ci`, .ci/install-frontend): the
# package build below takes its files along. Without npm the API and the page still work, with
# the terminal marked unavailable.
run: $(BIN)/python
	bash .ci/install-frontend || echo "make run: no xterm.js: the dashboard's terminal is unavailable"
	$(BIN)/pip install --quiet --disable-pip-version-check .
	exec $(BIN)/vm-api

test: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	bash .ci/setup-test-env
	$(BIN)/ruff check .
	bash .ci/test-both

# The second pass alone: the suite with the data on PostgreSQL and the queue on Redis.
test-postgres: $(BIN)/python
	bash .ci/test-postgres

lint: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@if [ -f bench/run_all.sh ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/run_all.sh; \
	else \
		echo "make bench: no bench/run_all.sh yet"; \
	fi

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find run -mindepth 1 ! -name .gitignore ! -name supervisor.sock -delete 2>/dev/null || true
