# Colloquy developer commands. `make help` lists them.
#
# The virtualenv is .venv, made with the Python that scripts/find-python.sh finds (>= 3.12).
# scripts/ensure-venv.sh re-runs pip only when requirements*.txt changed (a hash stamp in .venv),
# so every target may call it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Extra pytest arguments, e.g. make test ARGS='-k thread -x'
ARGS ?=
# What test-sqlite leaves out: tests that need PostgreSQL, or a real broker and worker.
SQLITE_MARKERS ?= not postgres and not integration
ADDR ?= 127.0.0.1:8000

.PHONY: help venv venv-dev run test test-sqlite prod-smoke lint fmt bench messages clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: ## the virtualenv with the runtime requirements
	@bash scripts/ensure-venv.sh runtime

venv-dev: ## the virtualenv with the development requirements (tests, lint)
	@bash scripts/ensure-venv.sh dev

# ADDR is where runserver listens (make run ADDR=0.0.0.0:9000); links in the demo's emails
# (SITE_URL) follow it.
run: venv ## the site on http://127.0.0.1:8000 (SQLite, eager Celery, demo content; ADDR=host:port)
	@ADDR='$(ADDR)' DEBUG=true $(PY) manage.py migrate --noinput
	@ADDR='$(ADDR)' DEBUG=true $(PY) manage.py seed_demo
	@ADDR='$(ADDR)' DEBUG=true $(PY) manage.py runserver $(ADDR)

test: ## the full suite: PostgreSQL, Redis, browser tests (installs what is missing)
	bash scripts/test.sh $(ARGS)

# Two gunicorns behind haproxy, PgBouncer, a PostgreSQL primary + streaming replica, Redis, a
# Celery worker, beat and an SMTP sink on loopback ports; a journey through them; all stopped.
prod-smoke: venv-dev ## the multi-node rehearsal of production on this machine (also run by make test)
	@bash scripts/system-deps.sh postgresql redis-server pgbouncer haproxy
	$(PY) scripts/prod_smoke.py

# SQLite and local-memory cache, whatever a .env says; browser tests run when Chromium exists.
test-sqlite: venv-dev ## the suite on SQLite, no services (installs Chromium if missing)
	@bash scripts/system-deps.sh chromium fonts-noto-cjk
	DATABASE_URL='sqlite:///$(CURDIR)/db.sqlite3' REDIS_URL= CELERY_BROKER_URL= \
	  CHROMIUM_PATH=$${CHROMIUM_PATH:-/usr/bin/chromium} DJANGO_ALLOW_ASYNC_UNSAFE=true \
	  $(PY) -m pytest -p no:cacheprovider -m '$(SQLITE_MARKERS)' $(ARGS)

lint: venv-dev ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv-dev ## format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv-dev ## run every bench/*.py (nothing to do when there is none)
	@shopt -s nullglob; scripts=(bench/*.py); \
	if (( $${#scripts[@]} == 0 )); then echo "bench: no bench/*.py scripts"; exit 0; fi; \
	for s in "$${scripts[@]}"; do echo "== $$s"; $(PY) "$$s"; done

messages: venv-dev ## update and compile the Simplified Chinese translations (locale/)
	@bash scripts/system-deps.sh gettext
	mkdir -p locale
	DEBUG=true $(PY) manage.py makemessages -l zh_Hans --ignore='.venv/*' --ignore='var/*' \
	  --ignore='staticfiles/*' --ignore='tests/*'
	DEBUG=true $(PY) manage.py compilemessages -l zh_Hans --ignore='.venv/*'

clean: ## remove caches and test leftovers (keeps .venv and db.sqlite3)
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache test-artifacts

distclean: clean ## also remove .venv
	rm -rf $(VENV)
