"""Start a real Celery worker process against a given database (tests, benchmark)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this process is using now (the test database in tests)."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    host = s["HOST"] if s["HOST"].startswith("/") else ""
    netloc = "" if host else f"{s['HOST']}:{s['PORT'] or 5432}"
    return f"postgresql://{auth}@{netloc}/{s['NAME']}" + (f"?host={host}" if host else "")


class CeleryWorker:
    """A ``celery worker`` subprocess on ``queue``, sharing this process's database,
    broker and Mem0 history file; ``extra_env`` overrides settings (e.g. a Mem0 that is down)."""

    def __init__(self, queue: str, extra_env: dict | None = None, *, concurrency: int = 1,
                 timeout: float = 120):
        env = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY,
               "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": queue,
               "DEBUG": "true",
               "LLM_BASE_URL": settings.LLM_BASE_URL, "EXPORT_DIR": str(settings.EXPORT_DIR),
               **(extra_env or {})}
        pool = ["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", *pool, "--loglevel=INFO", "-Q", queue,
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("Celery worker did not start:\n" + "\n".join(self.lines[-30:]))

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if " ready." in line:
                self._ready.set()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
