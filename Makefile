# streamrec: `make run` runs the whole pipeline locally; `make test` runs every test with the real
# services. Both set everything up from scratch (virtualenv, Kafka, Redis) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv services redis-cluster run stop test test-unit lint format lock clean bench test-faults

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP)  ## create .venv and install the pinned dependencies (constraints.txt)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "streamrec needs Python 3.11+ (set PYTHON=...)"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==25.3"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

services: venv  ## start Kafka and Redis (provisioned by scripts/) unless configured
	bash scripts/services.sh up

redis-cluster:  ## start a 3-master Redis Cluster on 127.0.0.1:17000-17002
	bash scripts/redis_cluster.sh start

run: venv  ## run the whole pipeline on sample data, in the foreground (Ctrl-C stops it)
	bash scripts/run.sh

stop:  ## stop everything `make run` / `make services` started
	bash scripts/stop.sh

lint: venv  ## ruff (format + lint) and mypy
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

format: venv  ## apply ruff's formatting and fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test-unit: venv  ## unit tests only: no network, seconds
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

test: lint  ## lint, then every test against a real Kafka and Redis
	bash scripts/test.sh $(PYTEST_ARGS)

test-faults: venv  ## fault scenarios with event accounting, then RELIABILITY.md (FAULTS="-m faults_ci": the CI subset)
	bash scripts/test.sh -s tests/faults $(FAULTS); status=$$?; $(PY) scripts/faults_report.py; exit $$status

bench: services  ## run the benchmarks (BENCH="name ..." for some) and update BENCHMARKS.md
	$(PY) scripts/bench/run.py $(BENCH)

lock:  ## re-resolve the newest allowed versions into constraints.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable > constraints.txt
	rm -rf .venv-lock

clean: stop  ## stop services and delete local state (.run, models)
	rm -rf .run
