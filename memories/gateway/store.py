"""The contract both backends keep (``LocalGateway``, ``PlatformGateway``): what the portal
may ask of the memory store. A namespace is an opaque string (a child's Mem0 ``user_id``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from memories.gateway.records import HistoryEntry, ListFilter, MemoryRecord, Page


@runtime_checkable
class MemoryStore(Protocol):
    # -- embeddings (the packaged MiniLM model in both backends) ------------------------
    def embed(self, text: str) -> list[float]: ...

    def embed_many(self, texts: list[str]) -> list[list[float]]: ...

    # -- reads ---------------------------------------------------------------------------
    def list(self, namespaces: list[str], *, offset: int = 0, limit: int = 50, flt: ListFilter | None = None,
             after: str | None = None, total: bool = True, count_limit: int | None = None) -> Page:
        """One page, newest first (ties by id, descending), with the total. ``after``: the
        page after the record with that ``cursor`` (keyset); ``total=False``: no count (0);
        ``count_limit``: the total may stop counting past that many."""

    def iter_all(self, namespaces: list[str], *, batch: int = 500,
                 flt: ListFilter | None = None) -> Iterator[MemoryRecord]:
        """Every memory of the namespaces, newest first, without holding them all."""

    def count(self, namespaces: list[str], *, exclude_kinds: list[str] | None = None) -> int: ...

    def get(self, memory_id: str) -> MemoryRecord | None:
        """Not scoped to a namespace: callers check ``record.namespace`` themselves."""

    def search(self, namespaces: list[str], query: str, *, limit: int = 10,
               flt: ListFilter | None = None) -> list[MemoryRecord]:
        """Best first, only inside the namespaces; ``score`` set."""

    def history(self, memory_id: str) -> list[HistoryEntry]:
        """Oldest first; empty for an unknown id."""

    # -- writes --------------------------------------------------------------------------
    def add(self, namespace: str, text: str, metadata: dict | None = None) -> MemoryRecord:
        """Stored verbatim (no LLM); raises Mem0Unavailable rather than return no id."""

    def add_conversation(self, namespace: str, messages: list[dict], *, prompt: str | None = None,
                         metadata: dict | None = None) -> list[str]:
        """Extraction with the agent's memory prompt; the ids of new memories. The raw
        messages are not kept."""

    def update(self, memory_id: str, *, text: str) -> MemoryRecord | None: ...

    def set_metadata(self, memory_id: str, **values) -> None:
        """Change metadata keys; a value of None removes the key. Text and history stay."""

    def set_metadata_many(self, updates: dict[str, dict]) -> None: ...

    def delete(self, memory_ids: list[str]) -> int:
        """Idempotent; returns how many existed."""

    def purge_namespace(self, namespace: str, *, known_ids: Iterable[str] = ()) -> int:
        """Erase the namespace from every store; returns how many memories it held."""

    def traces(self, namespace: str, *, marker: str | None = None,
               memory_ids: Iterable[str] = ()) -> dict[str, int]:
        """What is left of the namespace, store by store (all zero after a purge)."""

    def vacuum(self) -> None:
        """After a purge: let the database drop what deleted rows left behind."""

    def feedback(self, memory_id: str, rating: str | None, reason: str = "") -> None: ...

    def ping(self) -> None:
        """Raises Mem0Unavailable when the store cannot be reached."""

    def close(self) -> None: ...
