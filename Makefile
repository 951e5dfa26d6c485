# Two entry points on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint benchmark stop-db clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first: 2.13.0 is the CPU build on this machine; the rest resolves against it.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,s3]"
	@touch $(STAMP)

install: $(STAMP)

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
