# Kassa's two set-up commands: `make run` and `make test`. Both create the
# virtual environment in .venv and install the pinned requirements first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test install messages lint format compat bench bench-ingest bench-webhooks bench-delivery bench-flood bench-pdf bench-invoices bench-renewals profile-renewals bench-all clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements/base.txt requirements/prod.txt requirements/dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $@

install: $(VENV)/.installed

# Gettext catalogs (**/locale/*/LC_MESSAGES/*.po) to the .mo files Django reads, with Python alone (no GNU
# gettext): only those whose .po changed. Not committed; kassa/i18n_compile.py says how to add words.
messages: install
	$(BIN)/python -m kassa.i18n_compile

# The platform on embedded defaults: SQLite, filesystem Celery broker,
# localstripe, web + worker + beat from the Procfile. Ctrl-C stops them all.
PORT ?= 8000
LOCALSTRIPE_PORT ?= 8420
RUN_ENV := DEBUG=true KASSA_PORT=$(PORT) LOCALSTRIPE_PORT=$(LOCALSTRIPE_PORT) \
	KASSA_PUBLIC_URL=http://127.0.0.1:$(PORT) \
	STRIPE_API_BASE=http://127.0.0.1:$(LOCALSTRIPE_PORT) \
	STRIPE_JS_URL=http://127.0.0.1:$(LOCALSTRIPE_PORT)/js.stripe.com/v3/ \
	PATH=$(CURDIR)/$(BIN):$$PATH

# umask 077: the database, keys, queues and logs under var/ are readable by you only.
# var/make-run.env: these settings for your own `python manage.py …` next to it (kassa/devenv.py).
# kassa.run: the Procfile's processes; Ctrl-C stops them all and exits 0 (kassa/run.py).
run: install messages
	umask 077; $(RUN_ENV) python -m kassa.devenv
	umask 077; $(RUN_ENV) python manage.py migrate --noinput
	umask 077; $(RUN_ENV) python manage.py demo_setup
	umask 077; $(RUN_ENV) python -m kassa.run Procfile

test: install messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

# docs/stripe-compatibility.md: Kassa's operations against stripe-python's typed parameters and
# objects, from the OpenAPI schema. CI fails when it is stale (.ci/run).
compat: install
	DEBUG=true $(BIN)/python docs/stripe_compatibility.py

bench: install
	$(BIN)/python bench/api_create.py

bench-ingest: install
	$(BIN)/python bench/webhook_ingest.py

bench-webhooks: install
	$(BIN)/python bench/webhook_isolation.py

bench-delivery: install
	$(BIN)/python bench/webhook_delivery.py

bench-flood: install
	$(BIN)/python bench/tenant_flood.py

bench-pdf: install
	$(BIN)/python bench/invoice_pdf.py

bench-invoices: install
	$(BIN)/python bench/invoice_cycle.py

bench-renewals: install
	$(BIN)/python bench/renewals.py

# One renewal's cost in a minute, in-process: CPU, SQL statements by table and by line, events, cProfile, and what
# this design cannot do without (--floor).
profile-renewals: install
	$(BIN)/python bench/renewals_profile.py --where --floor

# Every benchmark in turn (each prints its table; a failed one stops the sequence).
bench-all: install
	$(BIN)/python bench/api_create.py
	$(BIN)/python bench/webhook_ingest.py
	$(BIN)/python bench/webhook_delivery.py
	$(BIN)/python bench/webhook_isolation.py
	$(BIN)/python bench/tenant_flood.py
	$(BIN)/python bench/invoice_pdf.py
	$(BIN)/python bench/invoice_cycle.py
	$(BIN)/python bench/renewals.py

clean:
	rm -rf $(VENV) var

# The README tour's screenshots (docs/*.png): a throwaway Kassa driven through the flow in Debian's Chromium.
.PHONY: screenshots
screenshots: install messages
	$(BIN)/python docs/screenshots.py
