"""The embedded mode's one start-up step, run by the commands that need a database before
Django reads its settings: ``manage.py``, ``portal.wsgi`` (gunicorn), the Celery app (worker,
beat) and the test session (``tests/plugin.py``).

Without ``DATABASE_URL`` it starts the embedded PostgreSQL in ``var/pg`` and writes what the
settings read into this process's environment (inherited by every child process):
``DATABASE_URL``, ``CELERY_BROKER_URL``, ``SECRET_KEY`` (kept in ``var/secret_key``) and
``PORTAL_EMBEDDED``. With ``DATABASE_URL`` set it does nothing at all."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def ensure_embedded_env() -> None:
    if os.environ.get("DATABASE_URL"):
        return
    from portal import embedded

    os.environ["DATABASE_URL"] = embedded.database_url(os.environ.get("PORTAL_DB_NAME") or "portal")
    if not os.environ.get("CELERY_BROKER_URL"):
        broker = embedded.database_url(os.environ.get("PORTAL_BROKER_DB_NAME") or "celery_broker")
        os.environ["CELERY_BROKER_URL"] = "pgsqla+" + broker.replace("postgresql://", "postgresql+psycopg://", 1)
    if not (os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE")):
        os.environ["SECRET_KEY"] = _secret_key()
    os.environ["PORTAL_EMBEDDED"] = "true"


def _secret_key() -> str:
    """The embedded mode's key, generated once into ``var/secret_key`` (owner-only)."""
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR") or BASE_DIR / "var").resolve()
    key_file = var_dir / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        var_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()
