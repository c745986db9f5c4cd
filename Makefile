# Two commands do everything: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export KRSN_DATABASE_URL ?= sqlite:///./var/krsn.db

.PHONY: run test lint format install migrate docs clean help ui web-test

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

# The UI: packages when the lock file changed, the typed client when the API changed, a
# production build when any of its sources changed.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
PY_SOURCES := $(shell find src/krsn -name '*.py' 2>/dev/null)

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

# Rewritten only when the document changed, so an unrelated Python change rebuilds nothing.
web/openapi.json: $(STAMP) $(PY_SOURCES)
	$(BIN)/python -m krsn.openapi $@

web/src/api/schema.d.ts: web/openapi.json web/node_modules/.installed
	cd web && npm run --silent gen

web/dist/index.html: web/node_modules/.installed web/src/api/schema.d.ts $(WEB_SOURCES)
	cd web && npm run --silent build

ui: web/dist/index.html ## Build the web UI (only when its sources or the API changed)

run: migrate ui ## Install, migrate, build the UI, create the first admin, serve on http://127.0.0.1:8000
	$(BIN)/krsn users bootstrap
	$(BIN)/krsn serve

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install ## Reformat and fix what ruff can
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

web-test: ui ## Type-check the UI and run its component tests
	cd web && npx tsc --noEmit -p . && npx vitest run

test: lint web-test ## Lint, then run the whole test suite (browser tests included)
	$(BIN)/pytest $(PYTEST_ARGS)

docs: install ## Regenerate the README's configuration table from config.py
	$(BIN)/python -m krsn.config README.md

clean: ## Remove the virtualenv, the UI's packages and build, and caches (keeps ./var)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist web/openapi.json web/src/api/schema.d.ts
