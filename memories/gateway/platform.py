"""The Platform backend: ``mem0.MemoryClient`` against the Mem0 Platform (``MEM0_API_KEY``).

The Platform keeps its own history and embeddings; ours (categorising) come from the same
packaged MiniLM model as the local backend. Only public client methods and documented
routes are used here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from memories.gateway import embedding
from memories.gateway.records import (
    HistoryEntry,
    ListFilter,
    Mem0Unavailable,
    MemoryRecord,
    Page,
    aware,
    history_entry,
    kinds_except,
    parse_time,
)

log = logging.getLogger(__name__)


def _newest_first(record: MemoryRecord) -> tuple:
    return (aware(record.created_at) or datetime.min.replace(tzinfo=UTC), record.id)


def _platform_record(item: dict) -> MemoryRecord:
    """A memory as the Platform returns it: text in ``memory``, our keys under ``metadata``."""
    return MemoryRecord(
        id=str(item["id"]),
        namespace=item.get("user_id") or "",
        text=item.get("memory") or "",
        metadata=dict(item.get("metadata") or {}),
        created_at=aware(parse_time(item.get("created_at"))),
        updated_at=aware(parse_time(item.get("updated_at"))),
        score=item.get("score"),
        cursor=f"{item.get('created_at') or ''}|{item['id']}",
    )


def _namespace_filters(namespaces: list[str]) -> dict:
    clauses = [{"user_id": namespace} for namespace in namespaces]
    return {"AND": clauses} if len(clauses) == 1 else {"OR": clauses}


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error from MemoryClient (its own exceptions carry it in
    ``debug_info``; its key check raises ValueError from the httpx error)."""
    import httpx

    debug = getattr(exc, "debug_info", None)
    if isinstance(debug, dict) and debug.get("status_code"):
        return int(debug["status_code"])
    for err in (exc, exc.__context__):
        if isinstance(err, httpx.HTTPStatusError):
            return err.response.status_code
    return None


class _NotFound(Exception):
    pass


class PlatformGateway:
    """mem0.MemoryClient on the Mem0 Platform; a namespace is the Platform's ``user_id``.

    The Platform filters only by entity and orders only newest first: an unfiltered
    ``list`` reads just the Platform pages that hold the window asked for (ties within a
    second ordered by id inside that window); a filtered one reads every page of the
    namespaces and narrows, orders and slices here. ``iter_all`` yields page by page. Adds
    are queued by the Platform: we wait (up to ``event_wait`` seconds) for the add's event
    to learn the ids."""

    page_size = 100  # the Platform's documented default page size
    event_wait = 30.0
    timeout = 30.0

    def __init__(self, *, api_key: str | None = None, host: str | None = None):
        self.api_key = api_key or settings.MEM0_API_KEY
        self.host = host or settings.MEM0_HOST or None
        self._client = None
        self._lock = threading.Lock()

    # -- construction ----------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import httpx
                    from mem0 import MemoryClient

                    http = httpx.Client(timeout=self.timeout)
                    try:
                        self._client = self._run(MemoryClient, api_key=self.api_key, host=self.host, client=http)
                    except _NotFound as exc:
                        http.close()
                        raise ImproperlyConfigured(f"MEM0_HOST does not answer as the Mem0 Platform: {exc}") from exc
                    except BaseException:
                        http.close()
                        raise
        return self._client

    @staticmethod
    def _run(fn, *args, **kwargs):
        """Call MemoryClient: what heals becomes Mem0Unavailable, a refused key an
        ImproperlyConfigured, a 404 ``_NotFound``."""
        import httpx
        from mem0.exceptions import NetworkError, RateLimitError

        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            status = _http_status(exc)
            if isinstance(exc, NetworkError | RateLimitError | httpx.TransportError) or (
                status is not None and (status >= 500 or status == 429)
            ):
                raise Mem0Unavailable(f"Mem0 Platform: {type(exc).__name__} {status or ''}".strip()) from exc
            if status in (401, 403):
                raise ImproperlyConfigured(f"The Mem0 Platform refused MEM0_API_KEY ({status}: {exc}).") from exc
            if status == 404:
                raise _NotFound(str(exc)) from exc
            raise

    def _get_json(self, path: str):
        """GET an endpoint MemoryClient has no method for (ping, events)."""
        def run():
            response = self.client.client.get(path)
            response.raise_for_status()
            return response.json()

        return self._run(run)

    # -- embeddings (ONNX Runtime, as the local backend: ``embedding``) -----------------
    def embed(self, text: str) -> list[float]:
        return embedding.encoder().embed(text)

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return embedding.encoder().embed_many(texts)

    # -- reads -----------------------------------------------------------------------
    def _page(self, namespaces: list[str], page: int, page_size: int) -> dict:
        return self._run(self.client.get_all, filters=_namespace_filters(namespaces), page=page,
                         page_size=page_size)

    def _pages(self, namespaces: list[str], page_size: int, first: int = 1) -> Iterator[dict]:
        """The Platform's pages from ``first`` on; none past the last one (a 404 there)."""
        page = first
        while True:
            try:
                data = self._page(namespaces, page, page_size)
            except _NotFound:
                return
            yield data
            if not data.get("next") or not data.get("results"):
                return
            page += 1

    def _total(self, namespaces: list[str]) -> int:
        return int(self._page(namespaces, 1, 1).get("count", 0))

    def list(self, namespaces: list[str], *, offset: int = 0, limit: int = 50, flt: ListFilter | None = None,
             after: str | None = None, total: bool = True, count_limit: int | None = None) -> Page:
        """One page, newest first, with the total (see the class for what is read). The
        Platform pages by number: a keyset page (``after``) reads up to its cursor; the total
        comes with every page, so it is always exact."""
        if not namespaces:
            return Page([], 0)
        if after:
            records = sorted(self.iter_all(namespaces, flt=flt), key=_newest_first, reverse=True)
            older = [r for r in records if (r.cursor or "") < after]
            return Page(older[offset : offset + limit], len(records))
        if flt is None or flt == ListFilter():
            return self._window(namespaces, offset, limit)
        records = sorted(self.iter_all(namespaces, flt=flt), key=_newest_first, reverse=True)
        return Page(records[offset : offset + limit], len(records))

    def _window(self, namespaces: list[str], offset: int, limit: int) -> Page:
        """Items ``offset`` to ``offset + limit`` through the Platform's own paging: one
        request when the window is a whole Platform page, a few otherwise."""
        aligned = 0 < limit <= self.page_size and offset % limit == 0
        size = limit if aligned else min(self.page_size, max(limit, 1))
        first = offset // size + 1
        pages = (offset + max(limit, 1) - 1) // size + 1 - first + 1
        items, total = [], None
        for data in self._pages(namespaces, size, first):
            total = int(data.get("count", 0))
            items += data.get("results", [])
            pages -= 1
            if not pages:
                break
        if total is None:  # the window starts past the last page
            total = self._total(namespaces)
        start = offset - (first - 1) * size
        records = [_platform_record(item) for item in items[start : start + limit]]
        return Page(sorted(records, key=_newest_first, reverse=True), total)

    def iter_all(self, namespaces: list[str], *, batch: int = 500,
                 flt: ListFilter | None = None) -> Iterator[MemoryRecord]:
        """Every memory of the namespaces in the Platform's order (newest first), page by page."""
        if not namespaces:
            return
        for data in self._pages(namespaces, min(batch, self.page_size)):
            for item in data.get("results", []):
                record = _platform_record(item)
                if flt is None or flt.matches(record):
                    yield record

    def count(self, namespaces: list[str], *, exclude_kinds: list[str] | None = None) -> int:
        if not namespaces:
            return 0
        if not exclude_kinds:
            return self._total(namespaces)
        return sum(1 for _ in self.iter_all(namespaces, flt=ListFilter(kinds=kinds_except(exclude_kinds))))

    def get(self, memory_id: str) -> MemoryRecord | None:
        """Not scoped to a namespace: callers check ``record.namespace`` themselves."""
        try:
            return _platform_record(self._run(self.client.get, memory_id))
        except _NotFound:
            return None

    def search(self, namespaces: list[str], query: str, *, limit: int = 10,
               flt: ListFilter | None = None) -> list[MemoryRecord]:
        """The Platform's ranking inside the namespaces; a filter is applied afterwards, so
        more candidates are asked for when there is one."""
        if not namespaces or not query.strip():
            return []
        narrowed = flt is not None and flt != ListFilter()
        top_k = min(1000, max(limit * 5, 50)) if narrowed else limit
        data = self._run(self.client.search, query, filters=_namespace_filters(namespaces), top_k=top_k,
                         threshold=0.0)
        records = (_platform_record(item) for item in data.get("results", []))
        return [r for r in records if flt is None or flt.matches(r)][:limit]

    def history(self, memory_id: str) -> list[HistoryEntry]:
        try:
            rows = self._run(self.client.history, memory_id)
        except _NotFound:
            return []
        return [history_entry(memory_id, r) for r in rows]

    # -- writes ----------------------------------------------------------------------
    def _added_ids(self, response: dict) -> list[str] | None:
        """Ids of the memories an add created, or None while the Platform is still at it.
        The Platform queues adds and answers with an event id; the event's results are add
        results (``id``, ``event``, ``data``)."""
        results = response.get("results")
        if results is None and response.get("event_id"):
            results = self._event_results(response["event_id"])
            if results is None:
                return None
        return [str(r["id"]) for r in results or [] if r.get("id") and r.get("event", "ADD") == "ADD"]

    def _event_results(self, event_id: str) -> list[dict] | None:
        deadline, pause = time.monotonic() + self.event_wait, 0.05
        while True:
            event = self._get_json(f"/v1/event/{event_id}/")
            if event.get("status") == "SUCCEEDED":
                return event.get("results") or []
            if event.get("status") == "FAILED":
                raise Mem0Unavailable(f"The Mem0 Platform failed to process event {event_id}.")
            if time.monotonic() + pause > deadline:
                log.warning("Mem0 Platform event %s still %s after %ss", event_id, event.get("status"),
                            self.event_wait)
                return None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def add(self, namespace: str, text: str, metadata: dict | None = None) -> MemoryRecord:
        """Stored verbatim (no LLM). Mem0Unavailable when the Platform has not stored it
        within ``event_wait`` (a retry may then store it twice: the Platform has no
        idempotency key for adds)."""
        metadata = dict(metadata or {})
        response = self._run(self.client.add, [{"role": "user", "content": text}], user_id=namespace,
                             metadata=metadata, infer=False)
        ids = self._added_ids(response)
        if not ids:
            raise Mem0Unavailable("The Mem0 Platform has not stored the memory yet.")
        stored = self.get(ids[0])
        return stored or MemoryRecord(id=ids[0], namespace=namespace, text=text, metadata=metadata)

    def add_conversation(self, namespace: str, messages: list[dict], *, prompt: str | None = None,
                         metadata: dict | None = None) -> list[str]:
        """The Platform's extraction (its own LLM) with the agent's memory prompt as this
        call's custom instructions. Returns new ids (none yet if the Platform is still
        extracting after ``event_wait``: it will finish on its own, so no retry)."""
        response = self._run(self.client.add, messages, user_id=namespace, metadata=dict(metadata or {}),
                             infer=True, custom_instructions=prompt or None)
        return self._added_ids(response) or []

    def update(self, memory_id: str, *, text: str) -> MemoryRecord | None:
        try:
            self._run(self.client.update, memory_id, text=text)
        except _NotFound:
            return None
        return self.get(memory_id)

    @staticmethod
    def _merged(metadata: dict, values: dict) -> dict:
        merged = {**metadata, **values}
        return {k: v for k, v in merged.items() if v is not None}

    def set_metadata(self, memory_id: str, **values) -> None:
        """Change metadata keys (category, rating…); a value of None removes the key. The
        Platform replaces the whole metadata, so the current one is merged first."""
        current = self.get(memory_id)
        if current is None:
            return
        try:
            self._run(self.client.update, memory_id, metadata=self._merged(current.metadata, values))
        except _NotFound:  # deleted meanwhile
            pass

    def set_metadata_many(self, updates: dict[str, dict]) -> None:
        """{memory_id: {key: value}}: read each, then batch updates of up to 1000."""
        batch = []
        for memory_id, values in updates.items():
            current = self.get(memory_id)
            if current is not None:
                batch.append({"memory_id": memory_id, "metadata": self._merged(current.metadata, values)})
        for start in range(0, len(batch), 1000):
            self._run(self.client.batch_update, batch[start : start + 1000])

    def delete(self, memory_ids: list[str]) -> int:
        deleted = 0
        for memory_id in memory_ids:
            try:
                self._run(self.client.delete, memory_id)
                deleted += 1
            except _NotFound:  # already gone: deleting is idempotent
                pass
        return deleted

    def purge_namespace(self, namespace: str, *, known_ids: Iterable[str] = ()) -> int:
        """Delete every memory of the namespace, then the namespace's user entity itself
        (the Platform keeps it, with its name, after its memories are gone). The Platform
        erases its own history with them (``known_ids`` matter only to the local stores)."""
        if not namespace:  # delete_all without a user_id would empty the whole project
            raise ValueError("purge_namespace needs a namespace")
        before = self._total([namespace])
        self._run(self.client.delete_all, user_id=namespace)
        try:
            self._run(self.client.delete_users, user_id=namespace)
        except _NotFound:  # no such entity (never had memories, or deleted already)
            pass
        return before

    def traces(self, namespace: str, *, marker: str | None = None, memory_ids: Iterable[str] = ()) -> dict:
        """What is left of a namespace, as far as the Platform shows: its memories and
        whether its user entity still exists (the Platform's list of every entity of the
        project is read for that: it has no route for one)."""
        data = self._run(self.client.users)
        entities = data.get("results", []) if isinstance(data, dict) else data
        exists = any(e.get("type") == "user" and e.get("name") == namespace for e in entities)
        return {"vectors": self._total([namespace]), "entities": int(exists)}

    def vacuum(self) -> None:
        """The Platform's storage is not ours to vacuum."""

    def close(self) -> None:
        if self._client is not None:
            self._client.client.close()
            self._client = None

    def feedback(self, memory_id: str, rating: str | None, reason: str = "") -> None:
        try:
            self._run(self.client.feedback, memory_id, feedback=rating or None, feedback_reason=reason or None)
        except _NotFound:  # the memory is gone: nothing to rate
            pass

    def ping(self) -> None:
        self._get_json("/v1/ping/")
