"""The local backend: ``mem0.Memory`` on pgvector, its stores in PostgreSQL.

Mem0's tables (vectors, entities, and history and raw messages in place of its per-host
SQLite file) live in the portal's database unless ``MEM0_DATABASE_URL`` points elsewhere;
a migration creates them (``schema``), so start-up runs no DDL. Everything, Mem0 included,
goes through one connection pool of ours. Mem0's pgvector ``list`` has no order, offset or
namespace index and its filtered HNSW search can return nothing, so reads go through our
own SQL on Mem0's table (namespace index, exact ranking inside the namespace); writes go
through Mem0 so its history stays true. A purge erases a namespace from every store in one
transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from memories.gateway import embedding, mem0_internals, schema, vectors
from memories.gateway.embedding import minilm_path
from memories.gateway.records import (
    LEARNED_KIND,
    PARENT_KIND,
    PROFILE_KIND,
    HistoryEntry,
    ListFilter,
    LLMNotConfigured,
    Mem0Unavailable,
    MemoryRecord,
    Page,
    aware,
    history_entry,
    kinds_except,
    parse_time,
)

POOL_TIMEOUT = 5.0  # fail within seconds when the database is away (psycopg_pool waits 30 s)
# Ranking (LocalGateway.search). Measured on 2 cores with realistic neighbours (manage.py
# benchmark): reading a namespace's own rows costs about 0.4 µs a row while they are cached
# (1 ms for 2,500), a filtered HNSW scan 10-20 µs a visited row, and it visits about
# CANDIDATES / share rows, several times that where other children's memories crowd the
# query's neighbourhood (130-190 ms for 2,500 memories at a 4% share; 19 ms for 20,000 at 33%).
EXACT_MAX = 20_000  # namespaces up to this size are ranked exactly by comparing every row
HNSW_MIN_SHARE = 0.05  # a larger one takes HNSW candidates when it is at least this share of the store
CANDIDATES = 100  # HNSW candidates re-ranked exactly
HNSW_EF = 400  # the scan's search list: recall@10 = 1.0 on the benchmark's stores (200: 0.99)
SPARE_ROWS = 6  # rows read beyond the limit, for those the filters leave out (more: another read)
SIZE_TTL = 60.0  # seconds a namespace's (capped) size is remembered for choosing the plan

# Keys in a memory's payload that are Mem0's own; everything else is metadata.
_CORE_KEYS = {"data", "hash", "created_at", "updated_at", "text_lemmatized", "user_id", "agent_id", "run_id",
              "actor_id", "role", "attributed_to", "expiration_date"}


def _record(memory_id, payload: dict, score: float | None = None) -> MemoryRecord:
    payload = payload or {}
    return MemoryRecord(
        id=str(memory_id),
        namespace=payload.get("user_id") or "",
        text=payload.get("data") or payload.get("memory") or "",
        metadata={k: v for k, v in payload.items() if k not in _CORE_KEYS},
        created_at=parse_time(payload.get("created_at")),
        updated_at=parse_time(payload.get("updated_at")),
        score=score,
        cursor=f"{payload.get('created_at') or ''}|{memory_id}",
    )


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _vector_literal(vector: Iterable[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def _iterative_scans(conn) -> None:
    """Each pooled connection lets filtered HNSW scans go on until they fill their LIMIT, so
    Mem0's own filtered searches (its dedup during extraction) see the namespace's rows.
    pgvector before 0.8 has no such setting: then nothing changes."""
    try:
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
    except psycopg.Error:
        conn.rollback()
    else:
        conn.commit()


class LocalGateway:
    """mem0.Memory on pgvector in the portal's PostgreSQL."""

    def __init__(self, *, dsn: str | None = None, collection: str | None = None):
        self.collection = collection or settings.MEM0_COLLECTION
        self.tables = schema.tables(self.collection)
        self.entities = self.tables.entities
        self._dsn = dsn
        self._memory = None
        self._pool = None
        self._lock = threading.Lock()
        self._sizes: dict[str, tuple[int, float]] = {}
        self.vectors = vectors.VectorCache()
        self._rows: tuple[float, float] = (0.0, 0.0)  # the store's estimated rows, until when

    # -- construction ----------------------------------------------------------------
    @staticmethod
    def django_dsn() -> str:
        s = connection.settings_dict
        parts = {"dbname": s["NAME"], "user": s["USER"], "password": s["PASSWORD"], "host": s["HOST"],
                 "port": s["PORT"]}
        return make_conninfo(**{k: v for k, v in parts.items() if v})

    @property
    def separate_database(self) -> bool:
        return bool(self._dsn or settings.MEM0_DATABASE_URL)

    def config(self) -> dict:
        return {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "collection_name": self.collection,
                    "embedding_model_dims": settings.MEM0_EMBEDDING_DIMS,
                    "hnsw": True,
                },
            },
            "embedder": {
                "provider": "huggingface",
                "config": {"model": minilm_path(),
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
        }

    @property
    def memory(self):
        if self._memory is None:
            with self._lock:
                if self._memory is None:
                    pool = ConnectionPool(self._dsn or settings.MEM0_DATABASE_URL or self.django_dsn(),
                                          min_size=1, max_size=6, timeout=POOL_TIMEOUT, open=False,
                                          configure=_iterative_scans, name=f"mem0-{self.collection}")
                    pool.open(wait=False)
                    try:
                        self._run(self._check_tables, pool)
                        memory = mem0_internals.build_memory(self.config(), pool=pool, collection=self.collection)
                    except BaseException:
                        pool.close()
                        raise
                    self._pool, self._memory = pool, memory
        return self._memory

    def _check_tables(self, pool) -> None:
        """Start-up runs no DDL: the tables come from a migration. Only tables missing from
        a separate Mem0 database are created here (its role must be allowed to)."""
        with pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(to_regclass(t)) FROM unnest(%s::text[]) AS t",
                        [[schema.quoted(t) for t in self.tables]])
            if cur.fetchone()[0] == len(self.tables):
                return
            if not self.separate_database:
                raise ImproperlyConfigured("Mem0's tables are missing: run `manage.py migrate`.")
            schema.apply(cur, self.collection, settings.MEM0_EMBEDDING_DIMS)
            schema.count_namespaces(cur, self.collection)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._memory = self._pool = None

    @contextmanager
    def _cursor(self, commit: bool = False, *, autocommit: bool = False):
        """A cursor on Mem0's database; its transaction commits when the block ends without
        an error (``commit`` is kept for callers' readability). ``autocommit``: each statement
        stands alone, and the block ends without a COMMIT round trip (a one-statement read)."""
        _ = self.memory
        with self._pool.connection() as conn:
            conn.autocommit = autocommit
            try:
                with conn.cursor() as cur:
                    yield cur
            finally:
                if autocommit and not conn.closed:
                    conn.autocommit = False  # the pool's next borrower gets a transaction

    @staticmethod
    def _run(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Mem0Unavailable:
            raise
        except (OSError, ConnectionError) as exc:
            raise Mem0Unavailable(type(exc).__name__) from exc
        except Exception as exc:
            if isinstance(exc, psycopg.OperationalError | PoolTimeout):
                raise Mem0Unavailable(type(exc).__name__) from exc
            raise

    # -- embeddings ------------------------------------------------------------------
    def embed(self, text: str) -> list[float]:
        """ONNX Runtime, micro-batched with the process's other queries (``embedding``)."""
        return embedding.encoder().embed(text)

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return embedding.encoder().embed_many(texts)

    # -- reads -----------------------------------------------------------------------
    def _where(self, namespaces: list[str], flt: ListFilter | None) -> tuple[str, list]:
        # One namespace (every child has exactly one) is an `=`: the namespace index then
        # returns its rows in order, where `= ANY` would read them all and sort.
        if len(namespaces) == 1:
            clauses, params = ["payload->>'user_id' = %s"], [namespaces[0]]
        else:
            clauses, params = ["payload->>'user_id' = ANY(%s)"], [list(namespaces)]
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
        if flt.device_ids:
            clauses.append("payload->>'device_id' = ANY(%s)")
            params.append(list(flt.device_ids))
        if flt.created_from:  # compared as times: the bound's offset need not be the payload's
            clauses.append("(payload->>'created_at')::timestamptz >= %s")
            params.append(aware(flt.created_from))
        if flt.created_to:
            clauses.append("(payload->>'created_at')::timestamptz < %s")
            params.append(aware(flt.created_to))
        if flt.text:
            escaped = flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("payload->>'data' ILIKE %s")
            params.append(f"%{escaped}%")
        return " AND ".join(clauses), params

    def list(self, namespaces: list[str], *, offset: int = 0, limit: int = 50, flt: ListFilter | None = None,
             after: str | None = None, total: bool = True, count_limit: int | None = None) -> Page:
        """One page, newest first, with the total. Through the namespace index: page 1 reads
        ``limit`` rows, a keyset page (``after``: a record's ``cursor``) seeks straight to its
        rows, an ``offset`` page skips that many first. ``total=False`` counts nothing (0);
        ``count_limit`` counts up to one more than that (the index read stays bounded)."""
        if not namespaces:
            return Page([], 0)
        page_sql, page_params = self.list_sql(namespaces, limit=limit, offset=offset, flt=flt, after=after)
        count_sql, count_params = self.count_sql(namespaces, flt=flt, limit=count_limit)

        def run():
            with self._cursor() as cur:
                found = 0
                if total:
                    cur.execute(count_sql, count_params)
                    found = cur.fetchone()[0]
                cur.execute(page_sql, page_params)
                rows = cur.fetchall()
            capped = count_limit is not None and found > count_limit and not self._exact_count(namespaces, flt)
            return Page([_record(r[0], r[1]) for r in rows], found, capped)

        return self._run(run)

    def list_sql(self, namespaces: list[str] | str, *, limit: int, offset: int = 0, flt: ListFilter | None = None,
                 after: str | None = None) -> tuple[str, list]:
        where, params = self._where([namespaces] if isinstance(namespaces, str) else namespaces, flt)
        if after:
            at, _, memory_id = after.rpartition("|")
            if not _is_uuid(memory_id):
                raise ValueError("not a memory cursor")
            where += " AND (payload->>'created_at', id) < (%s, %s::uuid)"
            params = [*params, at, memory_id]
        return (f'SELECT id, payload FROM "{self.collection}" WHERE {where} '
                "ORDER BY payload->>'created_at' DESC, id DESC LIMIT %s OFFSET %s", [*params, limit, offset])

    @staticmethod
    def _exact_count(namespaces: list[str], flt: ListFilter | None) -> bool:
        return len(namespaces) == 1 and (flt is None or flt == ListFilter())

    def count_sql(self, namespaces: list[str] | str, *, flt: ListFilter | None = None,
                  limit: int | None = None) -> tuple[str, list]:
        """Unfiltered, one namespace: its exact count, kept by triggers (one row). Otherwise
        counted through the namespace index, up to ``limit`` + 1 when given."""
        namespaces = [namespaces] if isinstance(namespaces, str) else namespaces
        if self._exact_count(namespaces, flt):
            return (f"SELECT coalesce((SELECT memories FROM {schema.quoted(self.tables.namespaces)} "
                    "WHERE user_id = %s), 0)", [namespaces[0]])
        where, params = self._where(namespaces, flt)
        if limit is None:
            return f'SELECT count(*) FROM "{self.collection}" WHERE {where}', params
        return (f'SELECT count(*) FROM (SELECT 1 FROM "{self.collection}" WHERE {where} LIMIT %s) AS capped',
                [*params, limit + 1])

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
        return self.list(namespaces, limit=0, flt=ListFilter(kinds=kinds_except(exclude_kinds))).total

    def get(self, memory_id: str) -> MemoryRecord | None:
        """Not scoped to a namespace: callers check ``record.namespace`` themselves."""
        if not _is_uuid(memory_id):
            return None

        def run():
            with self._cursor() as cur:
                cur.execute(f'SELECT id, payload FROM "{self.collection}" WHERE id = %s', [str(memory_id)])
                return cur.fetchone()

        row = self._run(run)
        return _record(row[0], row[1]) if row else None

    def search(self, namespaces: list[str], query: str, *, limit: int = 10,
               flt: ListFilter | None = None) -> list[MemoryRecord]:
        """Ranked by cosine similarity inside the namespaces, as an exact ranking would rank.

        A namespace of up to ``EXACT_MAX`` memories (or a small share of the store) is ranked
        exactly: its rows come through the namespace index and are all compared. A larger one
        takes ``CANDIDATES`` candidates
        from the HNSW index (iterative scan, so the namespace filter cannot starve it) and
        re-ranks them by their exact distance; when the scan brings fewer candidates than
        asked for (it stopped at ``hnsw.max_scan_tuples``, or the filter left few), the exact
        ranking answers instead. tests/memories/test_search_scale.py holds it to recall@10 = 1."""
        if not namespaces or not query.strip():
            return []
        query_vector = self._run(self.embed, query)
        if len(namespaces) == 1:
            found = self._run(self._search_copy, namespaces[0], query_vector, limit, flt)
            if found is not None:
                return found
        vector = _vector_literal(query_vector)
        where, params = self._where(namespaces, flt)
        candidates = max(CANDIDATES, 4 * limit)
        if len(namespaces) == 1 and self._hnsw_pays(namespaces[0]):
            rows = self._run(self._hnsw_candidates, vector, where, params, candidates)
            if len(rows) >= candidates:
                rows.sort(key=lambda r: r[2], reverse=True)
                return [_record(r[0], r[1], score=float(r[2])) for r in rows[:limit]]

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

    def _search_copy(self, namespace: str, query_vector: list[float], limit: int,
                     flt: ListFilter | None) -> list[MemoryRecord] | None:
        """Exact ranking on the process's copy of the namespace's vectors (``vectors``),
        current as of the namespace's version; then only the returned rows are read, the
        filters applied in rank order. A warm search is one statement: the best rows and the
        namespace's version, read together (a version other than the copy's: copy again).
        None when the namespace is too large to copy."""
        query = np.asarray(query_vector, dtype=np.float32)
        held = self.vectors.peek(namespace)
        if held is not None:
            found, version = self._rows_in_rank_order(namespace, held, query, limit, flt, check_version=True)
            if version == held.version:
                return found
        ns_table = schema.quoted(self.tables.namespaces)
        with self._cursor() as cur:
            cur.execute(f"SELECT memories, version FROM {ns_table} WHERE user_id = %s", [namespace])
            row = cur.fetchone()
        if row is None or row[0] <= 0:
            return []
        if not self.vectors.fits(row[0], settings.MEM0_EMBEDDING_DIMS):
            return None
        entry = self.vectors.get(namespace, row[1])
        if entry is None:
            with self.vectors.loading(namespace):  # one copy at a time: the others wait for it
                held = self.vectors.peek(namespace)
                entry = held if held is not None and held.version >= row[1] else self._copy_vectors(namespace)
        return self._rows_in_rank_order(namespace, entry, query, limit, flt)[0]

    def _rows_in_rank_order(self, namespace: str, entry, query, limit: int, flt: ListFilter | None, *,
                            check_version: bool = False) -> tuple[list[MemoryRecord], int | None]:
        """The ``limit`` best rows of the copy that pass the filters, best first, read in
        chunks (one, unless the filters leave out many), and the version they were read at.
        ``check_version``: the first chunk's statement also reads the namespace's version
        (None when it has no row), and nothing is returned when it is not the copy's."""
        scores = vectors.scores(entry, query)
        where, params = self._where([namespace], flt)
        rows_sql = f'SELECT id::text, payload FROM "{self.collection}" WHERE id = ANY(%s::uuid[]) AND {where}'
        found: list[MemoryRecord] = []
        version = None if check_version else entry.version
        start, chunk = 0, limit + SPARE_ROWS
        while len(found) < limit and start < len(scores):
            picked = vectors.best(scores, start + chunk)[start:]
            ids = [entry.ids[i] for i in picked]
            with self._cursor(autocommit=True) as cur:
                if check_version and start == 0:
                    cur.execute(
                        f"SELECT v.version, m.id, m.payload FROM (SELECT %s::text AS user_id) AS k "
                        f"LEFT JOIN {schema.quoted(self.tables.namespaces)} AS v ON v.user_id = k.user_id "
                        f"LEFT JOIN LATERAL ({rows_sql}) AS m ON true", [namespace, ids, *params])
                    fetched = cur.fetchall()
                    version = fetched[0][0]
                    if version != entry.version:
                        return [], version
                    rows = {r[1]: r[2] for r in fetched if r[1] is not None}
                else:
                    cur.execute(rows_sql, [ids, *params])
                    rows = dict(cur.fetchall())
            start, chunk = start + chunk, chunk * 4
            for i in picked:
                payload = rows.get(entry.ids[i])
                if payload is not None:
                    found.append(_record(entry.ids[i], payload, score=float(scores[i])))
                    if len(found) == limit:
                        break
        return found, version

    def _copy_vectors(self, namespace: str):
        """The namespace's vectors and version read in one snapshot, kept in the process."""
        ns_table = schema.quoted(self.tables.namespaces)
        with self._cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute(f"SELECT version FROM {ns_table} WHERE user_id = %s", [namespace])
            row = cur.fetchone()
            entry = self.vectors.load(cur, schema.quoted(self.collection), namespace, settings.MEM0_EMBEDDING_DIMS)
        entry = dataclasses.replace(entry, version=row[0] if row else -1)
        self.vectors.put(namespace, entry)
        return entry

    def _hnsw_candidates(self, vector: str, where: str, params: list, candidates: int) -> list:
        """About the namespace's ``candidates`` nearest rows by the HNSW index (iterative scan
        in relaxed order: the caller sorts them by their exact distances)."""
        with self._cursor() as cur:
            cur.execute(self.hnsw_settings(candidates))
            cur.execute(
                f'SELECT id, payload, 1 - (vector <=> %s::vector) FROM "{self.collection}" WHERE {where} '
                "ORDER BY vector <=> %s::vector LIMIT %s",
                [vector, *params, vector, candidates],
            )
            return cur.fetchall()

    @staticmethod
    def hnsw_settings(candidates: int) -> str:
        """For this transaction: scan the HNSW index (never the namespace index and a sort),
        iteratively until enough rows pass the filters, in about distance order."""
        return (f"SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = {HNSW_EF}; "
                "SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off")

    def _hnsw_pays(self, namespace: str) -> bool:
        """Above ``EXACT_MAX`` memories, when the namespace is at least ``HNSW_MIN_SHARE`` of
        the store: a filtered HNSW scan visits about ``CANDIDATES / share`` rows to find its
        candidates, so for a small share reading the namespace's own rows is cheaper (and
        the scan would stop at ``hnsw.max_scan_tuples`` before finding them)."""
        size = self._namespace_size(namespace)
        return size > EXACT_MAX and size >= HNSW_MIN_SHARE * self._store_size()

    def _store_size(self) -> float:
        """The planner's row estimate of the whole store (VACUUM / ANALYZE keep it), cached."""
        now = time.monotonic()
        if self._rows[1] > now:
            return self._rows[0]

        def run():
            with self._cursor() as cur:
                cur.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
                            [schema.quoted(self.collection)])
                row = cur.fetchone()
                return float(row[0]) if row else 0.0

        self._rows = (max(self._run(run), 0.0), now + SIZE_TTL)
        return self._rows[0]

    def _namespace_size(self, namespace: str) -> int:
        """How many memories the namespace holds, counted up to ``EXACT_MAX + 1`` through the
        namespace index and remembered for ``SIZE_TTL`` seconds (it only chooses the plan)."""
        now = time.monotonic()
        known = self._sizes.get(namespace)
        if known is not None and known[1] > now:
            return known[0]

        def run():
            with self._cursor() as cur:
                cur.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{self.collection}" '
                            "WHERE payload->>'user_id' = %s LIMIT %s) AS capped", [namespace, EXACT_MAX + 1])
                return cur.fetchone()[0]

        size = self._run(run)
        if len(self._sizes) > 10_000:
            self._sizes.clear()
        self._sizes[namespace] = (size, now + SIZE_TTL)
        return size

    def history(self, memory_id: str) -> list[HistoryEntry]:
        rows = self._run(self.memory.history, memory_id)
        return [history_entry(memory_id, r) for r in rows]

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
        # kept once the memories are extracted (Mem0 2.2.1's extraction only adds).
        self._run(self._delete_rows, self.tables.messages, "user_id = %s", [namespace])
        return [r["id"] for r in result.get("results", []) if r.get("event") == "ADD"]

    def bulk_insert(self, namespace: str, texts: list[str], *, metadata: dict | None = None,
                    vectors: list[list[float]] | None = None, start: datetime | None = None) -> list[str]:
        """Seed many memories at once through Mem0's vector store (benchmarks, imports).
        Rows get Mem0's payload layout; ``created_at`` steps back one second per row from
        ``start`` so the order is known. No history rows: nothing was said or changed."""
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
        if self.get(memory_id) is None:
            return None
        try:
            self._run(self.memory.update, memory_id, text=text)
        except ValueError:  # deleted meanwhile
            return None
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
            if not _is_uuid(memory_id):  # Mem0's ids are UUIDs: nothing to delete
                continue
            try:
                self._run(self.memory.delete, memory_id)
                deleted += 1
            except ValueError:  # already gone: deleting is idempotent
                pass
        ids = sorted({str(i) for i in memory_ids})
        if ids:
            self._run(self._delete_rows, self.tables.history, "memory_id = ANY(%s)", [ids])
        return deleted

    def _delete_rows(self, table: str, where: str, params: list) -> None:
        with self._cursor(commit=True) as cur:
            cur.execute(f"DELETE FROM {schema.quoted(table)} WHERE {where}", params)

    def purge_namespace(self, namespace: str, *, known_ids: Iterable[str] = ()) -> int:
        """Erase a namespace from every store (vectors, entities, history including the
        old text of deleted memories, raw messages) in one transaction."""
        if not namespace:
            raise ValueError("purge_namespace needs a namespace")
        t = {k: schema.quoted(v) for k, v in self.tables._asdict().items()}

        def run():
            with self._cursor(commit=True) as cur:
                cur.execute(f"DELETE FROM {t['vectors']} WHERE payload->>'user_id' = %s RETURNING id", [namespace])
                ids = [str(r[0]) for r in cur.fetchall()]
                cur.execute(f"DELETE FROM {t['entities']} WHERE payload->>'user_id' = %s", [namespace])
                cur.execute(f"DELETE FROM {t['history']} WHERE user_id = %s OR memory_id = ANY(%s)",
                            [namespace, sorted({*ids, *(str(i) for i in known_ids)})])
                cur.execute(f"DELETE FROM {t['messages']} WHERE user_id = %s", [namespace])
                cur.execute(f"DELETE FROM {t['namespaces']} WHERE user_id = %s", [namespace])
            return len(ids)

        return self._run(run)

    def traces(self, namespace: str, *, marker: str | None = None, memory_ids: Iterable[str] = ()) -> dict:
        """What is left of a namespace in every store (purge verification): its vectors,
        entities and raw messages, and the history of ``memory_ids`` and of its deleted
        memories. With a marker, also how many rows anywhere still hold it."""
        t = {k: schema.quoted(v) for k, v in self.tables._asdict().items()}
        ids = sorted({str(i) for i in memory_ids})
        queries = {
            "vectors": (f"SELECT count(*) FROM {t['vectors']} WHERE payload->>'user_id' = %s", [namespace]),
            "entities": (f"SELECT count(*) FROM {t['entities']} WHERE payload->>'user_id' = %s", [namespace]),
            # of the given memories, and of the namespace's memories that are gone
            "history": (f"SELECT count(*) FROM {t['history']} h WHERE h.memory_id = ANY(%s) OR (h.user_id = %s "
                        f"AND NOT EXISTS (SELECT 1 FROM {t['vectors']} v WHERE v.id = h.memory_id::uuid))",
                        [ids, namespace]),
            "messages": (f"SELECT count(*) FROM {t['messages']} WHERE user_id = %s", [namespace]),
        }
        if marker:
            like = [f"%{marker}%"]
            queries |= {
                "marker_vectors": (f"SELECT count(*) FROM {t['vectors']} WHERE payload::text ILIKE %s", like),
                "marker_entities": (f"SELECT count(*) FROM {t['entities']} WHERE payload::text ILIKE %s", like),
                "marker_history": (f"SELECT count(*) FROM {t['history']} WHERE old_memory ILIKE %s "
                                   "OR new_memory ILIKE %s", like * 2),
                "marker_messages": (f"SELECT count(*) FROM {t['messages']} WHERE content ILIKE %s", like),
            }

        def run():
            counts = {}
            with self._cursor() as cur:
                for key, (sql, params) in queries.items():
                    cur.execute(sql, params)
                    counts[key] = cur.fetchone()[0]
            return counts

        return self._run(run)

    def vacuum(self) -> None:
        """VACUUM (and re-ANALYZE) Mem0's tables after a purge, so deleted rows leave the
        heap and the statistics forget the erased namespace. A role that does not own the
        tables gets a warning from PostgreSQL, not an error."""
        def run():
            _ = self.memory
            with self._pool.connection() as conn:
                conn.autocommit = True
                try:
                    for table in self.tables:
                        conn.execute(f"VACUUM (ANALYZE) {schema.quoted(table)}")
                finally:
                    conn.autocommit = False

        self._run(run)

    def feedback(self, memory_id: str, rating: str | None, reason: str = "") -> None:
        """Mem0 feedback exists only on the Platform; locally our own record is the store."""

    def ping(self) -> None:
        self.embed("ping")

        def run():
            with self._cursor() as cur:
                cur.execute("SELECT 1")

        self._run(run)
