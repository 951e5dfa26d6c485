"""The tables of the local backend's stores in PostgreSQL, and the statistics rule.

Mem0's vector and entity tables have the layout its pgvector provider creates (mem0ai 2.2.1,
``PGVector.create_col``), plus the namespace index our reads use. Mem0's history and raw
messages live next to them (``mem0_internals.PostgresHistory``), so a purge is one
transaction. A memories migration runs ``apply`` when the tables live in the portal
database; the gateway runs it only for tables that are missing (a separate
``MEM0_DATABASE_URL``). Every statement is ``IF NOT EXISTS``: existing installs keep theirs.

Statistics: ANALYZE copies sample values of each column into ``pg_statistic`` (what
``pg_stats`` shows), where they outlive the rows. Columns that hold children's words keep
no statistics (target 0), and what was collected before is cleared.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

log = logging.getLogger(__name__)


class Tables(NamedTuple):
    vectors: str
    entities: str
    history: str
    messages: str
    namespaces: str  # per namespace: how many memories, and a version every change moves


def tables(collection: str) -> Tables:
    # "<collection>_entities" is Mem0's own name for its entity store's table.
    return Tables(collection, f"{collection}_entities", f"{collection}_mem0_history",
                  f"{collection}_mem0_messages", f"{collection}_namespaces")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def statements(collection: str, dims: int) -> list[str]:
    t = tables(collection)
    out = ["CREATE EXTENSION IF NOT EXISTS vector"]
    for name in (t.vectors, t.entities):
        table = quoted(name)
        out += [
            f"CREATE TABLE IF NOT EXISTS {table} (id UUID PRIMARY KEY, vector vector({int(dims)}), payload JSONB)",
            f"CREATE INDEX IF NOT EXISTS {quoted(name + '_hnsw_idx')} ON {table} "
            "USING hnsw (vector vector_cosine_ops)",
            f"CREATE INDEX IF NOT EXISTS {quoted(name + '_text_lemmatized_idx')} ON {table} "
            "USING gin (to_tsvector('simple', payload->>'text_lemmatized'))",
            f"CREATE INDEX IF NOT EXISTS {quoted(name + '_ns_created_idx')} ON {table} "
            "((payload->>'user_id'), (payload->>'created_at') DESC, id DESC)",
        ]
    history, messages = quoted(t.history), quoted(t.messages)
    out += [
        f"CREATE TABLE IF NOT EXISTS {history} (id UUID PRIMARY KEY, memory_id TEXT NOT NULL, user_id TEXT, "
        "old_memory TEXT, new_memory TEXT, event TEXT, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, "
        "is_deleted BOOLEAN NOT NULL DEFAULT FALSE, actor_id TEXT, role TEXT)",
        f"CREATE INDEX IF NOT EXISTS {quoted(t.history + '_memory_idx')} ON {history} (memory_id)",
        f"CREATE INDEX IF NOT EXISTS {quoted(t.history + '_user_idx')} ON {history} (user_id)",
        f"CREATE TABLE IF NOT EXISTS {messages} (id UUID PRIMARY KEY, session_scope TEXT NOT NULL, "
        "user_id TEXT, role TEXT, content TEXT, name TEXT, "
        "created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
        f"CREATE INDEX IF NOT EXISTS {quoted(t.messages + '_scope_idx')} ON {messages} (session_scope, created_at)",
        f"CREATE INDEX IF NOT EXISTS {quoted(t.messages + '_user_idx')} ON {messages} (user_id)",
    ]
    return out + namespace_statements(collection)


def namespace_statements(collection: str) -> list[str]:
    """The namespaces table and the statement triggers that keep it: every committed insert,
    update or delete of Mem0's rows adds to the namespace's count and gives it a new version
    (from a sequence, so a namespace erased and filled again never reuses one). The gateway's
    exact count and its per-process vector copies (``vectors``) read it. The trigger functions
    run as their owner: the portal's role needs no right on the sequence."""
    t = tables(collection)
    table, ns, seq = quoted(t.vectors), quoted(t.namespaces), quoted(f"{collection}_namespace_version")
    version = f"nextval('{seq}')"
    upsert = (f"INSERT INTO {ns} AS ns (user_id, memories, version) SELECT u, n, {version} FROM per "
              "ON CONFLICT (user_id) DO UPDATE SET memories = ns.memories + EXCLUDED.memories, "
              "version = EXCLUDED.version")
    bodies = {
        "inserted": ("NEW TABLE AS new_rows", "INSERT",
                     "WITH per AS (SELECT payload->>'user_id' AS u, count(*) AS n FROM new_rows "
                     f"WHERE payload->>'user_id' IS NOT NULL GROUP BY 1) {upsert}"),
        "deleted": ("OLD TABLE AS old_rows", "DELETE",
                    "WITH per AS (SELECT payload->>'user_id' AS u, -count(*) AS n FROM old_rows "
                    f"WHERE payload->>'user_id' IS NOT NULL GROUP BY 1) {upsert}"),
        "updated": ("OLD TABLE AS old_rows NEW TABLE AS new_rows", "UPDATE",
                    "WITH changes AS (SELECT payload->>'user_id' AS u, -1 AS n FROM old_rows UNION ALL "
                    "SELECT payload->>'user_id', 1 FROM new_rows), per AS (SELECT u, sum(n) AS n FROM changes "
                    f"WHERE u IS NOT NULL GROUP BY u) {upsert}"),
    }
    out = [
        f"CREATE SEQUENCE IF NOT EXISTS {seq}",
        f"CREATE TABLE IF NOT EXISTS {ns} (user_id TEXT PRIMARY KEY, memories BIGINT NOT NULL, "
        "version BIGINT NOT NULL)",
    ]
    for name, (referencing, event, body) in bodies.items():
        function = quoted(f"{collection}_ns_{name}")
        out += [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
            f"SECURITY DEFINER SET search_path FROM CURRENT AS $$ BEGIN {body}; RETURN NULL; END $$",
            f"CREATE OR REPLACE TRIGGER {quoted(collection + '_ns_' + name)} AFTER {event} ON {table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    function = quoted(f"{collection}_ns_truncated")
    out += [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
        f"SECURITY DEFINER SET search_path FROM CURRENT AS $$ BEGIN DELETE FROM {ns}; RETURN NULL; END $$",
        f"CREATE OR REPLACE TRIGGER {quoted(collection + '_ns_truncated')} AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]
    return out


def count_namespaces(cursor, collection: str) -> None:
    """Fill the namespaces table from the rows already there (after a bulk load with the
    triggers off, or once for an existing store). Run it where no write goes on meanwhile."""
    t = tables(collection)
    seq = quoted(f"{collection}_namespace_version")
    cursor.execute(f"DELETE FROM {quoted(t.namespaces)}")
    cursor.execute(f"INSERT INTO {quoted(t.namespaces)} (user_id, memories, version) SELECT payload->>'user_id', "
                   f"count(*), nextval('{seq}') FROM {quoted(t.vectors)} WHERE payload->>'user_id' IS NOT NULL "
                   "GROUP BY 1")


def word_columns(collection: str) -> dict[str, tuple[str, ...]]:
    """Columns (and index expressions, by index name) that hold children's words."""
    t = tables(collection)
    return {
        t.vectors: ("payload", "vector"),
        t.entities: ("payload", "vector"),
        f"{t.vectors}_text_lemmatized_idx": (1,),
        f"{t.entities}_text_lemmatized_idx": (1,),
        t.history: ("old_memory", "new_memory", "actor_id"),
        t.messages: ("content", "name"),
    }


def apply(cursor, collection: str, dims: int) -> None:
    """Create what is missing and switch statistics off where children's words are."""
    for statement in statements(collection, dims):
        cursor.execute(statement)
    for relation, columns in word_columns(collection).items():
        no_statistics(cursor, relation, columns)


def no_statistics(cursor, relation: str, columns: tuple) -> None:
    """Statistics target 0 for the columns (names of a table, or numbers of an index's
    expression columns), then clear what ANALYZE collected before."""
    cursor.execute("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", [quoted(relation)])
    row = cursor.fetchone()
    if row is None:
        return
    kind = "INDEX" if row[0] == "i" else "TABLE"
    for column in columns:
        target = column if isinstance(column, int) else quoted(column)
        cursor.execute(f"ALTER {kind} {quoted(relation)} ALTER COLUMN {target} SET STATISTICS 0")
    forget_statistics(cursor, relation)


def forget_statistics(cursor, relation: str) -> None:
    """Clear the collected statistics of the relation's columns whose target is 0:
    ``pg_clear_attribute_stats`` (PostgreSQL 18), else deleting them from ``pg_statistic``
    (superusers only), else a warning."""
    cursor.execute(
        "SELECT n.nspname, c.relname, a.attname, a.attnum FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget = 0",
        [quoted(relation)],
    )
    columns = cursor.fetchall()
    if not columns:
        return
    cursor.execute("SELECT to_regprocedure('pg_catalog.pg_clear_attribute_stats(text,text,text,boolean)')")
    if cursor.fetchone()[0] is not None:
        for schema, name, column, _ in columns:
            for inherited in (False, True):
                cursor.execute("SELECT pg_catalog.pg_clear_attribute_stats(%s, %s, %s, %s)",
                               [schema, name, column, inherited])
        return
    cursor.execute("SAVEPOINT forget_statistics")
    try:
        cursor.execute("DELETE FROM pg_catalog.pg_statistic WHERE starelid = to_regclass(%s) AND staattnum = ANY(%s)",
                       [quoted(relation), [c[3] for c in columns]])
    except Exception as exc:  # not a superuser on an older server
        cursor.execute("ROLLBACK TO SAVEPOINT forget_statistics")
        log.warning("Statistics of %s collected before could not be cleared (%s): a superuser can "
                    "delete them from pg_statistic.", relation, type(exc).__name__)
    else:
        cursor.execute("RELEASE SAVEPOINT forget_statistics")
