# DecisionOS — two commands set everything up on a fresh machine:
#   make run    the whole product (embedded Postgres + Redis, web, worker, beat, local OIDC IdP)
#   make test   lint + the whole test suite against real Postgres (RLS), Redis and Celery
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
IDP := devstack/idp
IDP_STAMP := $(IDP)/node_modules/.installed
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test lint fmt bench clean-var help browser

help:
	@echo "make run | make test | make lint | make fmt | make bench | make clean-var"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) requirements/base.txt requirements/dev.txt pyproject.toml
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

# The local OpenID Connect provider (npm package oidc-provider) for make run and the login tests.
$(IDP_STAMP): $(IDP)/package.json $(IDP)/package-lock.json
	cd $(IDP) && npm ci --no-audit --no-fund --silent
	@touch $@

# Debian packages: chromium drives the browser tests (Playwright for Python); fonts-nanum renders
# Korean in the admin and in PDFs; pango is WeasyPrint's text layout; poppler-utils reads PDFs in tests.
SYSTEM_PACKAGES := chromium fonts-nanum libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
browser:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi

run: $(STAMP) $(IDP_STAMP) browser
	$(PY) -m devstack run

lint: $(STAMP)
	$(VENV)/bin/ruff check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .

test: $(STAMP) $(IDP_STAMP) browser lint
	DJANGO_ENV=test $(PY) -m devstack exec --db-role owner --redis-db 1 -- \
		$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) -m devstack exec -- $(PY) $$b || exit 1; done

clean-var:
	rm -rf var
