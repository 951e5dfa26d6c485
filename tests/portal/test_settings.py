"""Settings only read the environment; the embedded database is started by one bootstrap
step in the commands that need it, never by importing the settings."""

import os
import stat
import subprocess
import sys

from django.conf import settings

from portal.bootstrap import ensure_embedded_env

ROOT = settings.BASE_DIR
# What the test session or the embedded mode put into this process's environment.
SESSION_ONLY = ("PORTAL_EMBEDDED", "PASSWORD_HASHERS", "DJANGO_ALLOW_ASYNC_UNSAFE")


def _python(code: str, tmp_path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in SESSION_ONLY and k != "DATABASE_URL"}
    base.update(PORTAL_PGDATA=str(tmp_path / "pg"), PORTAL_VAR_DIR=str(tmp_path / "var"),
                DJANGO_SETTINGS_MODULE="portal.settings")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=300)


def test_settings_read_the_environment_and_nothing_else(tmp_path):
    """With DATABASE_URL set, loading Django starts no server and writes no file; whether
    pytest is imported changes nothing (the test session sets its hasher by environment)."""
    code = ("import pytest, django; django.setup(); from django.conf import settings as s; "
            "print(s.PASSWORD_HASHERS[0], s.EMBEDDED, s.DEBUG, s.DATABASES['default']['NAME'])")
    result = _python(code, tmp_path, DATABASE_URL="postgresql://nobody@192.0.2.1:5432/elsewhere",
                     SECRET_KEY="x" * 50, CELERY_BROKER_URL="redis://192.0.2.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.contrib.auth.hashers.PBKDF2PasswordHasher", "False", "False",
                                     "elsewhere"]
    assert not (tmp_path / "pg").exists() and not (tmp_path / "var").exists()


def test_settings_without_a_database_url_fail_loudly_instead_of_starting_one(tmp_path):
    code = "import django; django.setup()"
    result = _python(code, tmp_path, SECRET_KEY="x" * 50, CELERY_BROKER_URL="redis://192.0.2.1:6379/0")
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr
    assert not (tmp_path / "pg").exists() and not (tmp_path / "var").exists()


def test_bootstrap_does_nothing_when_database_url_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@192.0.2.1:5432/elsewhere")
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path / "var"))
    for name in ("CELERY_BROKER_URL", "SECRET_KEY", "PORTAL_EMBEDDED"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    ensure_embedded_env()
    assert dict(os.environ) == before
    assert not (tmp_path / "var").exists()


def test_bootstrap_points_the_process_at_the_embedded_database(monkeypatch, tmp_path):
    """The databases already exist on this session's embedded server (no new ones made)."""
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "SECRET_KEY_FILE", "PORTAL_EMBEDDED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PORTAL_DB_NAME", "postgres")
    monkeypatch.setenv("PORTAL_BROKER_DB_NAME", "postgres")
    ensure_embedded_env()
    assert os.environ["DATABASE_URL"].startswith("postgresql://postgres@/postgres?host=")
    assert os.environ["CELERY_BROKER_URL"].startswith("pgsqla+postgresql+psycopg://postgres@/postgres?host=")
    assert os.environ["PORTAL_EMBEDDED"] == "true"
    key_file = tmp_path / "var" / "secret_key"
    assert os.environ["SECRET_KEY"] == key_file.read_text().strip() and len(os.environ["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("SECRET_KEY")
    ensure_embedded_env()  # a second process of the same checkout: the same key
    assert os.environ["SECRET_KEY"] == key_file.read_text().strip()


def test_importing_the_celery_app_starts_nothing_until_celery_reads_its_settings(tmp_path):
    """Worker and beat (`celery -A portal`) get the embedded database from the app's
    on_configure hook, before the settings are read."""
    code = ("import os; from portal.celery import app; assert 'DATABASE_URL' not in os.environ; "
            "print(app.conf.broker_url.split(':')[0]); print(os.environ['DATABASE_URL'].split('?')[0])")
    pg = str(settings.BASE_DIR / "var" / "pg")  # this session's server, already running
    result = _python(code, tmp_path, PORTAL_PGDATA=os.environ.get("PORTAL_PGDATA", pg),
                     PORTAL_DB_NAME="postgres", PORTAL_BROKER_DB_NAME="postgres", CELERY_BROKER_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["pgsqla+postgresql+psycopg", "postgresql://postgres@/postgres"]
