# Two entry points on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install messages lint benchmark stop-db clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first: 2.13.0 is the CPU build on this machine; the rest resolves against it.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,s3]"
	@touch $(STAMP)

# Translations (locale/*/LC_MESSAGES/django.po, written by hand) compiled with Django's
# compilemessages, which runs Debian's gettext (msgfmt: `apt-get install gettext`).
PO := $(wildcard locale/*/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)
$(MO): %.mo: %.po $(STAMP)
	@command -v msgfmt >/dev/null 2>&1 || { echo "msgfmt is missing: apt-get install gettext"; exit 1; }
	$(BIN)/django-admin compilemessages --ignore=.venv --ignore=var --ignore=node_modules -v 0

messages: $(MO)

install: $(STAMP) $(MO)

run: install
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py serve

test: install
	$(BIN)/python -m pytest

# mypy's django-stubs plugin imports the settings: a stand-in environment (nothing is contacted).
TYPECHECK_ENV := DATABASE_URL=postgresql://typecheck@localhost/typecheck SECRET_KEY=typecheck-only \
	CELERY_BROKER_URL=memory://

lint: install
	$(BIN)/ruff check .
	$(TYPECHECK_ENV) $(BIN)/mypy

benchmark: install
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py benchmark

stop-db: install
	$(BIN)/python manage.py embedded_db stop

clean:
	rm -rf $(VENV) var staticfiles
