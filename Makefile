# Sparkify pipelines: the bare-machine workflow (no Docker). See README.md.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < requirements-local.txt | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR)
# Let Python cache compiled modules (in .venv and the gitignored __pycache__ directories) even
# where the shell sets PYTHONDONTWRITEBYTECODE: without the cache every process (each test run,
# each Airflow task) compiles Airflow and the project again. Measured on the fast layer here:
# 68 s with the variable set, 39 s without (make test-unit, run twice).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv browser run stop test test-unit test-stack lint format system-test sql data clean copy-udacity bench

help:
	@echo "make run    set up, start the local stack, run the pipeline on sample data, print a report"
	@echo "make test   the whole test suite: the fast layer, then the tests that start services"
	@echo "make test-unit   the fast layer only: no services, under a minute"
	@echo "make browser   install Debian's chromium for the UI tests (make test does it)"
	@echo "make stop   stop every process make run started"
	@echo "make system-test   the pipeline on a real Redshift Serverless workgroup and bucket (SPARKIFY_SYSTEM_* variables; skips without them)"
	@echo "make sql Q=\"select ...\"   query the local warehouse"
	@echo "make lint   ruff (lint + format check), sqlfluff (Redshift dialect) on include/sql, hadolint; make test runs it first"
	@echo "make format   ruff format + ruff check --fix"
	@echo "make data OUT=dir [EVENTS=n SONGS=n] [SPARKIFY_LOG_KEY_TEMPLATE='log_data/%Y/%m/%d/%H/']   generate Sparkify-format data (day files, or the template's partitions)"
	@echo "make bench  every benchmark, in one run (about 30 min): bench/results/latest.json, docs/benchmarks.md"
	@echo "make copy-udacity BUCKET=name [ARGS=--dry-run]   server-side copy of s3://udacity-dend into the bucket"

# uv installs the pinned set: from a warm cache about 6 s here, where pip took 2 min 10 s
# (measured once each into a new venv). pip installs uv itself, at the version the set pins.
UV     := $(VENV)/bin/uv
UV_PIN := $(shell grep '^uv==' requirements-local.txt)

$(STAMP): requirements-local.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(UV) --version 2>/dev/null | grep -q "^uv $(subst uv==,,$(UV_PIN))" || \
		$(PY) -m pip install -qq --disable-pip-version-check "$(UV_PIN)"
	$(UV) pip install --python $(PY) --quiet -r requirements-local.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# Headless Chromium for the UI tests (tests/test_ui.py drives it with Playwright). Debian's
# package: Playwright's own browser download is not reachable from here. Skipped when present.
CHROMIUM := /usr/bin/chromium
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

browser: $(CHROMIUM)

run: venv
	$(PY) -m dev.run

stop:
	@if [ -x $(PY) ]; then $(PY) -m dev.stack stop; fi

# Tests run in random order (pytest-randomly prints its seed; ARGS="--randomly-seed=N" repeats an order,
# ARGS="-p no:randomly" keeps file order). Lint first (any finding fails), then the fast layer, then the tests
# marked `stack` (tests/conftest.py) in streams side by side: the scheduler stack's tests, the real data set's
# full-load tests, the other dag.test() tests, the modules with a stack of their own (tests/conftest.py:
# SCHEDULER_STREAM_MODULES, REAL_DATA_STREAM_MODULES; ARGS="-n 0" runs them one after the other).
test: lint test-unit test-stack

# Three workers on two cores: many of these tests wait on a subprocess (measured quiet,
# alternating: -n 2 49.6-50.5 s, -n 3 44.6-46.0 s, 2026-11-30).
test-unit: venv
	$(PY) -m pytest -m "not stack" -n 3 $(ARGS)

# Three workers: the long streams (the scheduler stack's, the real data's, dag.test()'s) and the
# modules with a stack of their own share them as each is free (one run each, 2026-11-30, with
# the real-data stream split off: -n 3 8 min 29 s, -n 4 9 min 2 s; before it, -n 2 12 min 10 s -
# 14 min 59 s, -n 3 10 min 47 s).
test-stack: venv browser
	$(PY) -m pytest -m stack -n 3 --dist loadgroup --durations=15 $(ARGS)

# The same checks as .pre-commit-config.yaml, over the whole tree. sqlfluff on every core
# (--processes 0): 14.2 s instead of 24.4 s here (one run each, 2026-11-30).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint --processes 0 include/sql
	$(VENV)/bin/hadolint Dockerfile

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

sql: venv
	@$(PY) -m dev.sql "$(Q)"

data: venv
	$(PY) -m dev.datagen $(or $(OUT),.local/data) $(if $(EVENTS),--events $(EVENTS)) $(if $(SONGS),--songs $(SONGS)) \
		$(if $(SPARKIFY_LOG_KEY_TEMPLATE),--log-key-template '$(SPARKIFY_LOG_KEY_TEMPLATE)')

# The pipeline against real AWS (Redshift Serverless + S3), before a first deploy: the
# SPARKIFY_SYSTEM_* variables are in dev/system_test.py and docs/deploy.md. Without them it
# says why it skipped and exits 0.
system-test: venv
	$(PY) -m dev.system_test

copy-udacity: venv
	@test -n "$(BUCKET)" || { echo "usage: make copy-udacity BUCKET=<project bucket> [ARGS='--dry-run --region us-west-2']"; exit 2; }
	$(PY) -m tools.copy_source --bucket $(BUCKET) $(ARGS)

clean: stop
	rm -rf .local

bench: venv
	$(UV) pip install --python $(PY) --quiet -r requirements-bench.txt
	$(PY) -m bench.run $(ARGS)
