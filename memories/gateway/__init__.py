"""The Mem0 gateway: the only package that imports ``mem0``.

It offers what the portal needs on namespaces (a child's opaque Mem0 ``user_id``) and
returns plain dataclasses (``records``), never raw Mem0 dicts. Both backends keep one
contract (``store.MemoryStore``):

* ``LocalGateway`` (``local``): ``mem0.Memory`` on pgvector; every store of Mem0 (vectors,
  entities, history, raw messages) in PostgreSQL. What it needs of Mem0's private internals
  sits in ``mem0_internals``, behind a version check; its tables in ``schema``.
* ``PlatformGateway`` (``platform``): ``mem0.MemoryClient`` against the Mem0 Platform
  (``MEM0_API_KEY``).

One instance per process, built lazily on first use (``get()``).
"""

from __future__ import annotations

import threading

from django.conf import settings

from memories.gateway.local import LocalGateway
from memories.gateway.platform import PlatformGateway
from memories.gateway.records import (
    KINDS,
    LEARNED_KIND,
    PARENT_KIND,
    PROFILE_KIND,
    HistoryEntry,
    ListFilter,
    LLMNotConfigured,
    Mem0Unavailable,
    MemoryRecord,
    Page,
)
from memories.gateway.store import MemoryStore

__all__ = [
    "KINDS", "LEARNED_KIND", "PARENT_KIND", "PROFILE_KIND", "HistoryEntry", "ListFilter", "LLMNotConfigured",
    "LocalGateway", "Mem0Unavailable", "MemoryRecord", "MemoryStore", "Page", "PlatformGateway", "get",
    "reset_for_tests",
]

_gateway: MemoryStore | None = None
_gateway_lock = threading.Lock()


def get() -> MemoryStore:
    """The process-wide gateway, built on first use."""
    global _gateway
    if _gateway is None:
        with _gateway_lock:
            if _gateway is None:
                _gateway = PlatformGateway() if settings.MEM0_API_KEY else LocalGateway()
    return _gateway


def reset_for_tests(gateway: MemoryStore | None = None) -> None:
    global _gateway
    _gateway = gateway
