# greenlight - the Makefile is the interface: a person and CI run the same targets.
#   make demo     set everything up and run the whole pipeline locally (IMAGES=dir for your own images)
#   make test     set everything up, lint, and run every test tier
#   make help     the rest

SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
# Compiled bytecode in the venvs (the machine sets PYTHONDONTWRITEBYTECODE, which otherwise
# makes every process compile from source).
UV_FLAGS := --quiet --compile-bytecode
UV_VERSION := 0.13.9
PYTHON ?= python3

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .venv-bootstrap/bin/uv
endif

APP := .venv/bin/python
TOOLS := .venv-tools/bin
CHECKOV := .venv-checkov/bin/checkov
PYPATH := layers/greenlight:local
SRC := layers/greenlight/greenlight functions cli local

.PHONY: help demo review-demo chromium setup test test-chaos-lane test-other-lane lint unit integration e2e emulator chaos \
	bench build deploy lock clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

.venv-bootstrap/bin/uv:
	$(PYTHON) -m venv .venv-bootstrap
	.venv-bootstrap/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.done: requirements/dev.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing -p $(PYTHON) .venv
	$(UV) pip install $(UV_FLAGS) -p $(APP) -r requirements/dev.txt
	$(UV) pip install $(UV_FLAGS) -p $(APP) --no-deps -e .  # the `greenlight` command (cli/)
	touch $@

.venv-tools/.done: requirements/tools.txt | $(UV)
	$(UV) venv --quiet --allow-existing -p $(PYTHON) .venv-tools
	$(UV) pip install $(UV_FLAGS) -p $(TOOLS)/python -r requirements/tools.txt
	touch $@

.venv-checkov/.done: requirements/checkov.txt | $(UV)
	$(UV) venv --quiet --allow-existing -p $(PYTHON) .venv-checkov
	$(UV) pip install $(UV_FLAGS) -p .venv-checkov/bin/python -r requirements/checkov.txt
	touch $@

demo: .venv/.done ## run the pipeline locally on sample images (IMAGES=dir for your own; SYNC=1; MODE=shadow)
	PYTHONPATH=$(PYPATH) $(APP) -m greenlight_local.demo $(if $(IMAGES),--images "$(IMAGES)") $(if $(SYNC),--sync) $(if $(MODE),--mode $(MODE))

setup: .venv/.done .venv-tools/.done .venv-checkov/.done chromium

# make test: the same tiers in two lanes, one per core. The small chaos run waits out the outages it
# injects (its 2.5 minutes are mostly wall-clock time, under a core of work), so lint, the unit and
# integration tiers and the other end-to-end tests run beside it, niced: the chaos run's short local
# time scale gets the CPU when it asks, the other lane what is left. Each lane's output prints whole
# when the lane ends; either lane failing fails the target.
E2E_CHAOS := tests/e2e/test_chaos.py
test: ## set everything up, lint, and run every test tier (the chaos run in a lane of its own)
	$(MAKE) --no-print-directory -j4 setup
	$(MAKE) --no-print-directory -j2 --output-sync=target test-chaos-lane test-other-lane

test-chaos-lane:
	$(PYTEST) $(E2E_CHAOS)

test-other-lane:
	nice -n 10 $(MAKE) --no-print-directory -j1 lint unit integration
	nice -n 10 $(PYTEST) tests/e2e --ignore=$(E2E_CHAOS)

lint: .venv/.done .venv-tools/.done .venv-checkov/.done ## ruff, mypy, cfn-lint, sam validate --lint, checkov
	.venv/bin/ruff check .
	.venv/bin/mypy $(SRC)
	$(TOOLS)/cfn-lint template.yaml
	$(TOOLS)/sam validate --lint
	$(CHECKOV) -f template.yaml --framework cloudformation --skip-download --compact --quiet

PYTEST := $(APP) -m pytest -q -p no:cacheprovider

unit: .venv/.done ## tests without any server: logic on fakes, pure functions, the template (< 30 s)
	$(PYTEST) tests/unit

integration: .venv/.done ## real adapters against moto server and the Green emulator on 127.0.0.1
	$(PYTEST) -n 2 tests/integration  # two workers: the tier waits on moto and the emulator more than on the CPU

e2e: .venv/.done chromium ## the whole local pipeline, a small seeded chaos run, and the reviewer page in Chromium
	$(PYTEST) tests/e2e

review-demo: .venv/.done ## the local pipeline on the samples and the reviewer page in your browser (PORT=n; Ctrl-C stops)
	PYTHONPATH=$(PYPATH) $(APP) -m greenlight_local.review_demo $(if $(PORT),--port $(PORT)) $(if $(NO_BROWSER),--no-browser)

chromium: ## Debian's chromium for the browser test (apt-get install when missing; needs root)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] || { echo "make: the browser test needs chromium: sudo apt-get install chromium" >&2; exit 1; }; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

emulator: .venv/.done ## the Green emulator in the foreground (GREEN_EMULATOR_PORT, default 8600)
	PYTHONPATH=$(PYPATH) $(APP) -m green_emulator

chaos: .venv/.done ## the chaos run at full size (1,000 uploads; SEED=n to vary)
	PYTHONPATH=$(PYPATH) $(APP) -m greenlight_local.chaos --uploads 1000 $(if $(SEED),--seed $(SEED))

bench: .venv/.done ## benchmarks against the local stack; writes BENCHMARKS.md (CHANGES="what changed since the last run")
	PYTHONPATH=$(PYPATH) $(APP) -m greenlight_local.bench --write BENCHMARKS.md $(if $(CHANGES),--changes "$(CHANGES)")

build: .venv-tools/.done ## sam build (needs a Python 3.13 interpreter with pip; no Docker)
	@py313=$$(.ci/find-python 3.13) || { echo "make build: no Python 3.13 found (python3.13 on PATH, pyenv, /usr/bin)"; exit 1; }; \
	[ -x .venv-py313/bin/python3.13 ] || $(UV) venv --quiet --seed -p "$$py313" .venv-py313; \
	PATH="$(CURDIR)/.venv-py313/bin:$$PATH" $(TOOLS)/sam build --cached
	@# sam build ships no bytecode, so every cold start would compile the layer and functions from
	@# source; unchecked-hash .pyc files stay valid whatever mtimes the zip gives the sources.
	.venv-py313/bin/python3.13 -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build

ENV ?= default
GUIDED_CONFIG := $(CURDIR)/.local/samconfig.toml
deploy: build ## sam deploy ENV=default|prod from samconfig.toml (GUIDED=1: ask everything, answers kept in .local/)
ifneq ($(GUIDED),)
	@# A guided run writes every answer into its config file: a copy outside git, never the tracked one.
	@mkdir -p .local && { [ -f $(GUIDED_CONFIG) ] || cp samconfig.toml $(GUIDED_CONFIG); }
	$(TOOLS)/sam deploy --guided --config-env $(ENV) --config-file $(GUIDED_CONFIG)
else
	$(TOOLS)/sam deploy --config-env $(ENV)
endif

lock: | $(UV) ## re-pin every requirements file from its .in
	$(UV) pip compile --quiet --python-version 3.11 requirements/dev.in -o requirements/dev.txt
	$(UV) pip compile --quiet --python-version 3.11 requirements/tools.in -o requirements/tools.txt
	$(UV) pip compile --quiet --python-version 3.11 requirements/checkov.in -o requirements/checkov.txt
	$(UV) pip compile --quiet --python-version 3.13 --python-platform aarch64-manylinux2014 \
	  requirements/layer.in -o layers/greenlight/requirements.txt

clean: ## remove venvs, build output and local run files
	rm -rf .venv .venv-tools .venv-checkov .venv-py313 .venv-bootstrap .aws-sam .local .mypy_cache .ruff_cache
