"""Every place the local backend relies on Mem0's private internals, behind a version check.

Read from, and tested with, mem0ai 2.2.1. A new version may rename or change any of them, so
the gateway refuses to start on an untested one (ImproperlyConfigured naming the version):
read this module against the new release, run the gateway tests, then add it to ``TESTED``.

What is used here, and nowhere else:
* ``Memory.db``: Mem0's history/messages store, a ``SQLiteManager`` on a per-host file;
  replaced by ``PostgresHistory`` (same methods) on the portal's PostgreSQL.
* ``Memory.entity_store`` (lazy property) and ``PGVector._collection_ensured``: both stores
  are built at once on our connection pool and told their tables exist, so Mem0 never runs
  DDL (the tables come from a migration: see ``schema``).
* ``Memory.embedding_model.model``: the sentence-transformers model, for batch encoding.
* The session scope key of Mem0's messages (``user_id=<escaped>`` joined with ``&``).
"""

from __future__ import annotations

import uuid
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from memories.gateway import schema

TESTED = ("2.2.1",)


def check_version() -> str:
    try:
        found = version("mem0ai")
    except PackageNotFoundError as exc:
        raise ImproperlyConfigured("mem0ai is not installed.") from exc
    if found not in TESTED:
        raise ImproperlyConfigured(
            f"mem0ai {found} is not a version the Mem0 gateway was tested with ({', '.join(TESTED)}): "
            "check memories/gateway/mem0_internals.py against it, or install mem0ai==" + TESTED[-1] + "."
        )
    return found


def build_memory(config: dict, *, pool, collection: str):
    """A ``mem0.Memory`` whose stores all use ``pool`` and whose history is ours."""
    check_version()
    from mem0 import Memory

    config = {**config, "history_db_path": ":memory:"}  # Mem0 opens it; replaced below
    config["vector_store"]["config"] = {**config["vector_store"]["config"], "connection_pool": pool}
    memory = Memory.from_config(config)
    memory.db.close()
    memory.db = PostgresHistory(pool, collection)
    for store in (memory.vector_store, memory.entity_store):
        if store.connection_pool is not pool:  # Mem0 copies the config for its entity store
            raise ImproperlyConfigured("Mem0's entity store does not share the gateway's connection pool.")
        store._collection_ensured = True
    return memory


def sentence_model(memory):
    return memory.embedding_model.model


def scope_user_id(session_scope: str) -> str | None:
    """The ``user_id`` inside Mem0's session scope key (``_build_session_scope``)."""
    for part in session_scope.split("&"):
        key, _, value = part.partition("=")
        if key == "user_id":
            return value.replace("%3D", "=").replace("%26", "&").replace("%25", "%")
    return None


class PostgresHistory:
    """Mem0's ``SQLiteManager`` interface on two tables of the portal's PostgreSQL (one truth
    for every web and worker host). Rows also carry the namespace (``user_id``), so a purge
    finds them without knowing every memory id."""

    def __init__(self, pool, collection: str):
        self.pool = pool
        t = schema.tables(collection)
        self.vectors, self.history, self.messages = (schema.quoted(n) for n in (t.vectors, t.history, t.messages))

    def _insert_history(self, cur, rows: list[tuple]) -> None:
        cur.executemany(
            f"INSERT INTO {self.history} (id, memory_id, user_id, old_memory, new_memory, event, created_at, "
            "updated_at, is_deleted, actor_id, role) VALUES (%s, %s, coalesce("
            f"(SELECT payload->>'user_id' FROM {self.vectors} WHERE id = %s::uuid), "
            f"(SELECT user_id FROM {self.history} WHERE memory_id = %s AND user_id IS NOT NULL LIMIT 1)), "
            "%s, %s, %s, %s, %s, %s, %s, %s)",
            [(str(uuid.uuid4()), r[0], r[0], r[0], *r[1:]) for r in rows],
        )

    @staticmethod
    def _row(memory_id, old_memory, new_memory, event, created_at=None, updated_at=None, is_deleted=0,
             actor_id=None, role=None) -> tuple:
        return (memory_id, old_memory, new_memory, event, created_at or None, updated_at or None,
                bool(is_deleted), actor_id, role)

    def add_history(self, memory_id: str, old_memory: str | None, new_memory: str | None, event: str, *,
                    created_at: str | None = None, updated_at: str | None = None, is_deleted: int = 0,
                    actor_id: str | None = None, role: str | None = None) -> None:
        with self.pool.connection() as conn, conn.cursor() as cur:
            self._insert_history(cur, [self._row(memory_id, old_memory, new_memory, event, created_at,
                                                 updated_at, is_deleted, actor_id, role)])

    def batch_add_history(self, records: list[dict[str, Any]]) -> None:
        rows = [self._row(r.get("memory_id"), r.get("old_memory"), r.get("new_memory"), r.get("event"),
                          r.get("created_at"), r.get("updated_at"), r.get("is_deleted", 0), r.get("actor_id"),
                          r.get("role")) for r in records]
        if rows:
            with self.pool.connection() as conn, conn.cursor() as cur:
                self._insert_history(cur, rows)

    def get_history(self, memory_id: str) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, "
                f"actor_id, role FROM {self.history} WHERE memory_id = %s "
                "ORDER BY created_at ASC NULLS FIRST, updated_at ASC NULLS FIRST",
                [str(memory_id)],
            )
            rows = cur.fetchall()
        keys = ("id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted",
                "actor_id", "role")
        return [{**dict(zip(keys, r, strict=True)), "id": str(r[0]), "created_at": _iso(r[5]),
                 "updated_at": _iso(r[6])} for r in rows]

    def save_messages(self, messages: list[dict[str, Any]], session_scope: str) -> None:
        if not messages:
            return
        user_id = scope_user_id(session_scope)
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.messages} (id, session_scope, user_id, role, content, name) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(str(uuid.uuid4()), session_scope, user_id, m.get("role"), m.get("content"), m.get("name"))
                 for m in messages],
            )
            # Mem0 keeps the 10 most recent messages of a scope.
            cur.execute(
                f"DELETE FROM {self.messages} WHERE session_scope = %s AND id NOT IN (SELECT id FROM "
                f"{self.messages} WHERE session_scope = %s ORDER BY created_at DESC LIMIT 10)",
                [session_scope, session_scope],
            )

    def get_last_messages(self, session_scope: str, limit: int = 10) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT role, content, name, created_at FROM (SELECT role, content, name, created_at FROM "
                f"{self.messages} WHERE session_scope = %s ORDER BY created_at DESC LIMIT %s) AS last "
                "ORDER BY created_at ASC",
                [session_scope, limit],
            )
            rows = cur.fetchall()
        return [{"role": r[0], "content": r[1], "name": r[2], "created_at": _iso(r[3])} for r in rows]

    def reset(self) -> None:
        """Mem0 drops its SQLite tables here; ours belong to a migration, so they are emptied."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(f"DELETE FROM {self.history}")
            cur.execute(f"DELETE FROM {self.messages}")

    def close(self) -> None:
        """The pool belongs to the gateway."""


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
