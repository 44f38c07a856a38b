# Two commands for a fresh clone: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
# An optional Django series to test against, e.g. `make test DJANGO=6.1` (needs Python 3.12+).
DJANGO ?=
BIN := $(VENV)/bin
comma := ,
STAMP := $(VENV)/.installed$(DJANGO)
DJANGO_PIN := $(if $(DJANGO),"Django~=$(DJANGO).0",)

.PHONY: demo test lint matrix clean browser bench loadtest

$(STAMP): pyproject.toml requirements/test.txt requirements/lint.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e . -r requirements/test.txt -r requirements/lint.txt $(DJANGO_PIN)
	@$(BIN)/python -m pip install -q mysqlclient || echo "mysqlclient could not be built (it needs the MySQL client headers and pkg-config): MariaDB/MySQL will not be tested."
	@rm -f $(VENV)/.installed*
	@touch $@ $(VENV)/.demo$(DJANGO)

# The demo needs only the package and what it depends on; `make test` installs the rest.
DEMO_STAMP := $(VENV)/.demo$(DJANGO)
$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e . $(DJANGO_PIN)
	@touch $@

# Its set-up writes (migrate, demo data) whatever switch the shell exported; the site
# then serves in that mode.
SETUP_ENV := env -u READ_ONLY_MODE -u GET_ONLY_MODE
DEMO_ADDRESS ?= 127.0.0.1:8000
demo: $(DEMO_STAMP)
	cd example && $(SETUP_ENV) ../$(BIN)/python manage.py migrate --noinput
	cd example && $(SETUP_ENV) ../$(BIN)/python manage.py load_demo
	@echo "Demo on http://$(DEMO_ADDRESS)/  (user: demo, password: demo)"
	cd example && ../$(BIN)/python manage.py runserver $(DEMO_ADDRESS)

# The browser tests drive Debian's chromium (never a browser Playwright downloads).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is not installed (Debian: sudo apt install chromium): browser tests will be skipped"; \
		fi; }

test: $(STAMP) browser
	$(BIN)/python scripts/test_all_backends.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Load and faults on PostgreSQL and MariaDB with Redis (loopback), then migration day (MariaDB
# to PostgreSQL under load: copy --live, on, sync, cutover, off); LOADTEST_SECONDS per run.
LOADTEST_SECONDS ?= 120
loadtest: $(STAMP)
	$(BIN)/python scripts/loadtest.py --duration $(LOADTEST_SECONDS)
	$(BIN)/python scripts/migration_day.py --duration $(LOADTEST_SECONDS)

# Side-by-side figures against no guard, django-read-only and django-maintenance-mode,
# written to docs/benchmarks.md (needs PostgreSQL and Redis on loopback).
bench: $(STAMP)
	$(BIN)/python -m pip install -q -r requirements/bench.txt
	$(BIN)/python benchmarks/report.py

# dbtools copy against pgloader, dumpdata | loaddata, a bare Python copy and the clients' own
# pipe, MariaDB and PostgreSQL to PostgreSQL (loopback), written to docs/copy-benchmarks.md.
# Long (1.2 million rows per pair, every contender): not part of `make bench`.
.PHONY: bench-copy
bench-copy: $(STAMP)
	$(BIN)/python -m pip install -q -r requirements/bench.txt
	$(BIN)/python benchmarks/copy_throughput.py

# The read-only window on over 1 GB: a full copy in it and a restart, against copy --live
# before it and on, sync, cutover, off; written to docs/sync-window.md (long, as bench-copy).
.PHONY: bench-window
bench-window: $(STAMP)
	$(BIN)/python -m pip install -q -r requirements/bench.txt
	$(BIN)/python benchmarks/sync_window.py

# Python 3.10-3.13 x Django 5.2, 6.0, 6.1, and psycopg2 (see tox.ini); CORNERS=1 runs the
# oldest and newest corners and psycopg2 only.
matrix: $(STAMP)
	$(BIN)/python -m pip install -q "tox>=4"
	$(BIN)/tox $(if $(CORNERS),-e py310-django52$(comma)py313-django61$(comma)py311-django52-psycopg2,)

# Django's own test suite on SQLite and PostgreSQL, without and with dbtools installed, and the
# difference (scripts/django_suite.py); e.g. DJANGO_SUITE_ARGS="--subset --backends sqlite".
DJANGO_SUITE_ARGS ?=
.PHONY: django-suite
django-suite: $(STAMP)
	$(BIN)/python scripts/django_suite.py $(DJANGO_SUITE_ARGS)

clean:
	rm -rf $(VENV) .tox *.sqlite3 example/var
