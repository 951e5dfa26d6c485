"""Writes that wait in a web server process and go to the database in batches, off the
request path (the toy routes' usage counts and call audit entries).

A ``Batch`` is one kind of entry with its writer. Outside a web server (tests, commands,
Celery) ``add`` writes at once, as one write. In a web server's worker (``start``, called
from gunicorn.conf.py) entries wait in the process and one thread writes every batch every
``interval`` seconds, and at exit (``stop``: the worker's exit, or ``atexit``). A write that
fails keeps its entries for the next round: none is lost while the process lives."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

log = logging.getLogger(__name__)

_batches: list[Batch] = []
_state: dict[str, Any] = {"running": False, "thread": None}
_stop = threading.Event()


def _extend(held: list, new: list) -> list:
    held.extend(new)
    return held


class Batch:
    """Entries of one kind waiting for ``write(entries)``. ``empty()`` makes the container
    (a list by default), ``merge(held, new)`` adds newer entries to held ones and returns
    the result, ``size(entries)`` says how many were written (``flush``'s answer)."""

    def __init__(self, name: str, write: Callable[[Any], None], *, empty: Callable[[], Any] = list,
                 merge: Callable[[Any, Any], Any] = _extend, size: Callable[[Any], int] = len):
        self.name, self.write, self.empty, self.merge, self.size = name, write, empty, merge, size
        self.lock = threading.Lock()
        self.held = empty()
        _batches.append(self)

    def add(self, entries) -> None:
        """Held for the next batch in a web server; written now elsewhere."""
        with self.lock:  # checked under the lock: ``stop``'s last flush sees what was added before
            if _state["running"]:
                self.held = self.merge(self.held, entries)
                return
        self.write(entries)

    def flush(self) -> int:
        """Write what waits now; how many were written (0 when the write failed: kept)."""
        with self.lock:
            entries, self.held = self.held, self.empty()
        if not self.size(entries):
            return 0
        try:
            self.write(entries)
        except Exception:
            log.warning("%s not written yet; kept for the next round", self.name, exc_info=True)
            connection.close()
            with self.lock:  # what came meanwhile is newer: merged on top
                self.held = self.merge(entries, self.held)
            return 0
        return self.size(entries)


def flush() -> int:
    """Write every batch's waiting entries now; how many were written."""
    return sum(batch.flush() for batch in list(_batches))


def _loop(interval: float) -> None:
    while not _stop.wait(interval):
        flush()
    connection.close()


def start(interval: float = 1.0) -> None:
    """Batch in this process (a web server's worker: ``gunicorn.conf.py``)."""
    if _state["running"]:
        return
    _stop.clear()
    _state["running"] = True
    _state["thread"] = threading.Thread(target=_loop, args=(interval,), name="batches", daemon=True)
    _state["thread"].start()
    atexit.register(stop)


def stop() -> None:
    """Write what waits and stop batching (a worker's exit): later entries are written at once."""
    if not _state["running"]:
        return
    _state["running"] = False
    _stop.set()
    if _state["thread"] is not None:
        _state["thread"].join(30)
        _state["thread"] = None
    flush()
