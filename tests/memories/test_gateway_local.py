"""The local gateway on real Mem0 + pgvector: what only this backend does (complete lists
of large namespaces, exact scoped search, Mem0's history and messages in PostgreSQL, its
tables from a migration, no statistics of children's words). The contract both backends
keep is in test_gateway_contract.py."""

import secrets
import uuid
from datetime import datetime

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from memories.gateway import LocalGateway, mem0_internals, schema
from tests.conftest import unique_mac


def namespace() -> str:
    return f"child_{uuid.uuid4().hex}"


def admin():
    """A connection of our own to the test database, outside any test transaction."""
    return psycopg.connect(LocalGateway.django_dsn(), autocommit=True)


@pytest.fixture
def own_collection(gw):
    """A Mem0 collection of this test only, its tables made as the migration makes them."""
    name = f"g_{secrets.token_hex(4)}"
    with admin() as conn:
        schema.apply(conn.cursor(), name, 384)
    yield name
    with admin() as conn:
        for table in schema.tables(name):
            conn.execute(f"DROP TABLE IF EXISTS {schema.quoted(table)}")


def test_listing_ten_thousand_memories_is_complete(gw):
    ns = unique_mac()
    texts = [f"memory number {i}" for i in range(10_000)]
    vectors = [[((i % 97) + 1) / 100.0] * 384 for i in range(10_000)]
    ids = gw.bulk_insert(ns, texts, vectors=vectors)
    first = gw.list([ns], offset=0, limit=50)
    assert first.total == 10_000
    assert first.items[0].text == "memory number 0"  # newest first
    last = gw.list([ns], offset=9_950, limit=50)
    assert last.items[-1].text == "memory number 9999"
    seen = [m.id for m in gw.iter_all([ns], batch=700)]
    assert len(seen) == 10_000 and set(seen) == set(ids)


def test_delete_leaves_no_trace_in_any_store(gw):
    ns = unique_mac()
    marker = "zebra-marker-7f3a"
    m = gw.add(ns, f"the secret word is {marker}", {})
    gw.update(m.id, text=f"the secret word is still {marker}")
    assert gw.traces(ns, marker=marker, memory_ids=[m.id])["marker_history"] == 2
    gw.delete([m.id])
    traces = gw.traces(ns, marker=marker, memory_ids=[m.id])
    assert traces == {"vectors": 0, "entities": 0, "marker_vectors": 0, "marker_entities": 0, "messages": 0,
                      "history": 0, "marker_history": 0, "marker_messages": 0}


def test_scoped_search_is_exact_next_to_a_large_store(gw):
    """HNSW-then-filter starves a small namespace in a big table; ours ranks exactly."""
    import numpy as np

    rng = np.random.default_rng(3)

    def unit(n):
        v = rng.standard_normal((n, 384)).astype("float32")
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    for i in range(6):
        gw.bulk_insert(unique_mac(), [f"other {i}-{j}" for j in range(500)], vectors=unit(500).tolist())
    ns = unique_mac()
    mine = unit(40)
    ids = gw.bulk_insert(ns, [f"mine {j}" for j in range(40)], vectors=mine.tolist())
    query = mine[7] + 0.3 * unit(1)[0]
    expected = [ids[i] for i in np.argsort(-(mine @ query))[:10]]
    gw.embed = lambda text: query.tolist()  # the query vector itself, instead of a text's
    try:
        got = gw.search([ns], "anything", limit=10)
    finally:
        del gw.embed
    assert [r.id for r in got] == expected
    assert all(r.namespace == ns for r in got)


def test_history_and_messages_behave_like_mem0s_own_sqlite_store(gw):
    from mem0.memory.storage import SQLiteManager

    memory_id, scope = str(uuid.uuid4()), f"agent_id=toy&user_id={namespace()}"
    at = ["2026-01-05T09:00:00+00:00", "2026-01-05T10:00:00+00:00", "2026-01-05T11:00:00+00:00"]
    seen = []
    for store in (SQLiteManager(":memory:"), gw.memory.db):
        store.add_history(memory_id, None, "likes kites", "ADD", created_at=at[0], updated_at=at[0])
        store.batch_add_history([{"memory_id": memory_id, "old_memory": "likes kites", "new_memory": "likes boats",
                                  "event": "UPDATE", "created_at": at[0], "updated_at": at[1]}])
        store.add_history(memory_id, "likes boats", None, "DELETE", created_at=at[0], updated_at=at[2],
                          is_deleted=1)
        for i in range(12):
            store.save_messages([{"role": "user", "content": f"message {i}"}], scope)
        history = [(h["memory_id"], h["event"], h["old_memory"], h["new_memory"], h["is_deleted"],
                    datetime.fromisoformat(h["created_at"]), datetime.fromisoformat(h["updated_at"]))
                   for h in store.get_history(memory_id)]
        messages = [(m["role"], m["content"], m["name"]) for m in store.get_last_messages(scope, limit=5)]
        seen.append((history, messages, len(store.get_last_messages(scope, limit=100))))
    assert seen[0] == seen[1]
    assert seen[1][1][-1] == ("user", "message 11", None) and seen[1][2] == 10
    with gw._cursor() as cur:  # in the portal's PostgreSQL, not in a file of this host
        cur.execute(f"SELECT count(*) FROM {schema.quoted(gw.tables.history)} WHERE memory_id = %s", [memory_id])
        assert cur.fetchone()[0] == 3
    gw.purge_namespace(mem0_internals.scope_user_id(scope), known_ids=[memory_id])


def test_the_namespace_is_read_from_mem0s_session_scope():
    from mem0.memory.main import _build_session_scope

    for user_id in ("child_0123abcd", "a&b=c%d", "aa:bb:cc:dd:ee:ff"):
        scope = _build_session_scope({"user_id": user_id, "agent_id": "toy&1", "run_id": "r=2"})
        assert mem0_internals.scope_user_id(scope) == user_id
    assert mem0_internals.scope_user_id(_build_session_scope({"agent_id": "toy"})) is None


def test_purge_erases_history_and_messages_the_portal_never_saw(gw):
    """Mem0 deletes memories itself (extraction decides DELETE): their old text stays in its
    history under ids the portal never learnt. The purge finds them by namespace."""
    ns, marker = namespace(), f"zq{secrets.token_hex(6)}"
    memory = gw.add(ns, f"Rahul's secret is {marker}")
    gw.memory.delete(memory.id)
    gw.memory.db.save_messages([{"role": "user", "content": f"I told you {marker}"}], f"agent_id=toy&user_id={ns}")
    before = gw.traces(ns, marker=marker)
    assert (before["marker_history"], before["messages"]) == (2, 1)

    gw.purge_namespace(ns)

    assert not any(gw.traces(ns, marker=marker).values())


def test_purged_words_leave_no_planner_statistics(own_collection):
    """ANALYZE samples column values into pg_statistic, where they outlived the purge."""
    store, ns, marker = LocalGateway(collection=own_collection), namespace(), f"zq{secrets.token_hex(6)}"
    try:
        ids = [store.add(ns, f"{marker} likes kite number {i}").id for i in range(4)]
        store.update(ids[0], text=f"{marker} likes boats now")
        store.memory.db.save_messages([{"role": "user", "content": f"{marker} said {i}", "name": f"{marker}"}
                                       for i in range(4)], f"user_id={ns}")
        with store._cursor() as cur:
            for table in store.tables:
                cur.execute(f"ANALYZE {schema.quoted(table)}")
            cur.execute("SELECT count(*) FROM pg_stats WHERE tablename LIKE %s", [f"{own_collection}%"])
            assert cur.fetchone()[0] > 0  # statistics were collected (the namespace index's)

        store.purge_namespace(ns)
        store.vacuum()

        with store._cursor() as cur:
            cur.execute("SELECT tablename, attname FROM pg_stats WHERE concat(most_common_vals::text, "
                        "histogram_bounds::text, most_common_elems::text) ILIKE %s", [f"%{marker}%"])
            assert cur.fetchall() == []
    finally:
        store.close()


def test_columns_with_childrens_words_keep_no_statistics(gw):
    """What the migration set on the test database, Mem0's tables and ours."""
    expected = {(t, c) for t, cols in schema.word_columns(gw.collection).items() for c in cols if isinstance(c, str)}
    expected |= {("memories_conversation", "messages"), ("memories_memoryfeedback", "reason")}
    with gw._cursor() as cur:
        cur.execute("SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "WHERE a.attstattarget = 0 AND c.relkind = 'r'")
        assert expected <= set(cur.fetchall())
        cur.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attstattarget = 0",
                    [f'"{gw.collection}_text_lemmatized_idx"'])
        assert cur.fetchone()[0] == 1


def test_tables_made_by_mem0_itself_are_the_same_and_taken_over(gw):
    """Existing installs: Mem0 (and the old gateway) created the tables at start-up. The
    migration's statements leave them be, and make what Mem0 makes."""
    from mem0.vector_stores.pgvector import PGVector

    theirs, ours = f"m_{secrets.token_hex(4)}", f"o_{secrets.token_hex(4)}"
    mem0_store = PGVector(dbname=None, collection_name=theirs, embedding_model_dims=384, user=None, password=None,
                          host=None, port=None, diskann=False, hnsw=True, connection_string=LocalGateway.django_dsn())
    try:
        mem0_store.create_col()
        mem0_store.insert(vectors=[[0.1] * 384], payloads=[{"data": "kept", "user_id": "child_x"}],
                          ids=[str(uuid.uuid4())])
    finally:
        mem0_store.connection_pool.close()
    try:
        with admin() as conn:
            cur = conn.cursor()
            for _ in range(2):
                schema.apply(cur, theirs, 384)
            schema.apply(cur, ours, 384)

            def shape(table):
                cur.execute("SELECT column_name, data_type, udt_name FROM information_schema.columns "
                            "WHERE table_name = %s ORDER BY ordinal_position", [table])
                columns = cur.fetchall()
                cur.execute("SELECT replace(indexdef, %s, 'T') FROM pg_indexes WHERE tablename = %s ORDER BY 1",
                            [table, table])
                return columns, [r[0] for r in cur.fetchall()]

            assert shape(theirs) == shape(ours)
            cur.execute(f"SELECT payload->>'data' FROM {schema.quoted(theirs)}")
            assert cur.fetchall() == [("kept",)]
    finally:
        with admin() as conn:
            for table in (*schema.tables(theirs), *schema.tables(ours)):
                conn.execute(f"DROP TABLE IF EXISTS {schema.quoted(table)}")


def test_start_up_needs_no_ddl_rights(gw):
    """On managed PostgreSQL the portal's role may not own the tables: nothing at start-up
    or in use creates an index or alters the database."""
    role = f"portal_app_{secrets.token_hex(4)}"
    with admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(map(schema.quoted, gw.tables))} "
                     f'TO "{role}"')
    app = LocalGateway(dsn=make_conninfo(LocalGateway.django_dsn(), user=role))
    try:
        ns = namespace()
        memory = app.add(ns, "Mia loves kites")
        app.update(memory.id, text="Mia loves kites and boats")
        assert [r.id for r in app.search([ns], "kites")] == [memory.id]
        assert [h.event for h in app.history(memory.id)] == ["ADD", "UPDATE"]
        assert app.purge_namespace(ns) == 1
        assert not any(app.traces(ns, memory_ids=[memory.id]).values())
        app.vacuum()  # not the owner: PostgreSQL skips it with a warning
    finally:
        app.close()
        with admin() as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_each_connection_lets_filtered_hnsw_scans_fill_their_limit(gw):
    with gw._cursor() as cur:
        cur.execute("SHOW hnsw.iterative_scan")
        assert cur.fetchone()[0] == "relaxed_order"


def test_an_untested_mem0_version_is_refused_by_name(db, monkeypatch):
    monkeypatch.setattr(mem0_internals, "version", lambda package: "2.3.0")
    store = LocalGateway()
    with pytest.raises(ImproperlyConfigured, match=r"mem0ai 2\.3\.0 .*2\.2\.1"):
        _ = store.memory
    assert store._pool is None


def test_the_connection_string_keeps_a_password_with_quotes(db, monkeypatch):
    from django.db import connection

    password = "it's a \\ 'secret' value"
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", password)
    assert conninfo_to_dict(LocalGateway.django_dsn())["password"] == password


def test_a_separate_mem0_database_gets_its_tables_on_first_use(gw):
    """MEM0_DATABASE_URL: no migration runs there, so the gateway makes what is missing."""
    name = f"mem0_g_{secrets.token_hex(4)}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    store = LocalGateway(dsn=make_conninfo(LocalGateway.django_dsn(), dbname=name))
    try:
        ns = namespace()
        memory = store.add(ns, "Mia loves kites")
        assert [r.id for r in store.list([ns]).items] == [memory.id]
        with store._cursor() as cur:
            cur.execute("SELECT count(to_regclass(t)) FROM unnest(%s::text[]) AS t",
                        [[schema.quoted(t) for t in store.tables]])
            assert cur.fetchone()[0] == len(store.tables) == 5
    finally:
        store.close()
        with admin() as conn:
            conn.execute(f'DROP DATABASE "{name}"')
