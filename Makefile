# Two commands do everything: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export KRSN_DATABASE_URL ?= sqlite:///./var/krsn.db

.PHONY: run test lint format install migrate docs clean help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the platform with its development tools

migrate: install ## Apply database migrations
	$(BIN)/krsn db upgrade

run: migrate ## Install, migrate, create the first admin, serve on http://127.0.0.1:8000
	$(BIN)/krsn users bootstrap
	$(BIN)/krsn serve

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install ## Reformat and fix what ruff can
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: lint ## Lint, then run the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

docs: install ## Regenerate the README's configuration table from config.py
	$(BIN)/python -m krsn.config README.md

clean: ## Remove the virtualenv and caches (keeps ./var)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
