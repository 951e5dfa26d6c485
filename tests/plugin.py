"""The test session's environment, set before pytest-django reads the settings (loaded with
``-p tests.plugin`` from pyproject's addopts; run pytest from the repository root).

Test data stays apart from the demo's: a fast password hasher (personas are created per
test) and the broker database ``celery_broker_test``. Each can be overridden from the environment, as can the test
database (``PORTAL_TEST_DB_NAME``) and the export folder (``EXPORT_DIR``), so parallel runs
keep apart. Then the embedded database is started unless ``DATABASE_URL`` is set."""

import os

import pytest

from portal.bootstrap import ensure_embedded_env

TEST_ENV = {
    "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    "PORTAL_BROKER_DB_NAME": "celery_broker_test",
    # Deletes at once unless a test gives them an undo window (tests/memories/test_undo_delete.py).
    "MEMORY_DELETE_GRACE_SECONDS": "0",
}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    for name, value in TEST_ENV.items():
        os.environ.setdefault(name, value)
    ensure_embedded_env()
