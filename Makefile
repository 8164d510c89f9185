# The workbook's two commands are `make lab` and `make test`; both set up everything they need first.
# make setup   .venv with pinned packages and the `labkit` command, Apache Kafka jars via Maven
# make up      start the embedded cluster (3 KRaft nodes on 9097-9099)
# make down    stop what `make up` / `make lab` started
# make bench   run the benchmarks under bench/

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JUPYTER_PORT ?= 8888
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

.PHONY: lab test setup up down bench python-check browser

setup: $(STAMP)
	@$(BIN)/labkit fetch

python-check:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; found " + sys.version.split()[0])'

$(STAMP): requirements.txt pyproject.toml | python-check
	@echo "Installing the workbook's Python packages into $(VENV) (first time takes a few minutes)…"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements.txt
	@$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

up: setup
	@$(BIN)/labkit up

down:
	@if [ -x $(BIN)/labkit ]; then $(BIN)/labkit down; else echo "Nothing to stop (no .venv yet)."; fi

lab: up
	@echo "Opening JupyterLab on http://127.0.0.1:$(JUPYTER_PORT)/lab (Ctrl-C stops JupyterLab; \`make down\` stops Kafka)"
	@$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(JUPYTER_PORT) --notebook-dir=notebooks $(ALLOW_ROOT)

test: setup browser
	@tests/run.sh $(PYTEST_ARGS)

# The browser tests drive Debian's chromium with Playwright (Playwright's own browser download is not used).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "Installing Debian's chromium for the browser tests…"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

bench: setup
	@$(BIN)/python bench/cluster_start.py
	@$(BIN)/python bench/patterns.py
