"""What the toy routes look up on every call (a token by its hash, a toy by its MAC, and
what callers derive from them, like whether memory is on), kept in each process.

Every committed change to tokens, toys, children, agents or consent bumps one version
number in the database (triggers: migration 0007_lookup_version). A request checks it once,
with the first lookup it makes (one primary-key read instead of a query per lookup); a
version other than the one the cache was filled under empties the cache. So a revoked token,
a moved toy or a withdrawn consent stops working at the next request of every process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import connection

MAX_ENTRIES = 10_000

_lock = threading.Lock()
_entries: dict[Any, Any] = {}
_state: dict[str, int | None] = {"version": None}
_request = threading.local()  # this thread's request: whether one is running, the version it saw
_MISSING = object()


def current_version() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT value FROM devices_lookup_version WHERE id = 1")
        return cur.fetchone()[0]


def _fresh() -> int:
    """The version: read once per request (every time outside one); the cache is emptied
    when it moved."""
    version = getattr(_request, "version", None)
    if version is None:
        version = current_version()
        if getattr(_request, "running", False):
            _request.version = version
        with _lock:
            if _state["version"] != version:
                _entries.clear()
                _state["version"] = version
    return version


def cached(key, load: Callable[[], Any]):
    """``load()``'s answer for ``key`` (None included), from the cache while nothing looked
    up has changed since."""
    version = _fresh()
    value = _entries.get(key, _MISSING)
    if value is _MISSING:
        value = load()
        with _lock:
            if _state["version"] == version:  # not filled under a version that moved meanwhile
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = value
    return value


def clear() -> None:
    """Forget everything (tests: each starts from what its own transaction holds)."""
    with _lock:
        _entries.clear()
        _state["version"] = None
    _request.__dict__.clear()


def _request_started(**kwargs) -> None:
    _request.running, _request.version = True, None


def _request_finished(**kwargs) -> None:
    _request.running, _request.version = False, None


request_started.connect(_request_started, dispatch_uid="devices-lookups-request-started")
request_finished.connect(_request_finished, dispatch_uid="devices-lookups-request-finished")
