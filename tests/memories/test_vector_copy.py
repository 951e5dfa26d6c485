"""Exact ranking on each process's copy of a namespace's vectors: current as of the
namespace's version, which every committed insert, update or delete moves (triggers on
Mem0's table), so a memory added, changed, rated 🚫 or deleted by any process is seen by
the next search; the count comes from the same row."""

import threading
import uuid
from contextlib import contextmanager

import numpy as np
import psycopg

from memories.bench import corpus
from memories.gateway import LEARNED_KIND, ListFilter, LocalGateway, vectors


def namespace() -> str:
    return f"child_{uuid.uuid4().hex}"


def exact_ids(gw, ns, query, k=10):
    with psycopg.connect(LocalGateway.django_dsn(), autocommit=True) as conn:
        rows = conn.execute(f'SELECT id::text, 1 - (vector <=> %s::vector) FROM "{gw.collection}" '
                            "WHERE payload->>'user_id' = %s ORDER BY 2 DESC LIMIT %s",
                            ["[" + ",".join(map(str, gw.embed(query))) + "]", ns, k]).fetchall()
    return [r[0] for r in rows]


def test_search_ranks_on_the_copy_and_sees_every_change(gw):
    ns = namespace()
    texts = corpus.memories(600, seed=31)
    gw.bulk_insert(ns, texts, vectors=gw.embed_many(texts), metadata={"kind": LEARNED_KIND})
    loads = gw.vectors.stats["loads"]
    queries = corpus.queries(8, seed=32)
    for query in queries:
        found = gw.search([ns], query, limit=10)
        assert [r.id for r in found] == exact_ids(gw, ns, query)
        assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    assert gw.vectors.stats["loads"] == loads + 1  # copied once, then reused

    query = queries[0]
    top = gw.search([ns], query, limit=3)
    gw.set_metadata(top[0].id, rating="VERY_NEGATIVE")  # rated 🚫: never served
    served = gw.search([ns], query, limit=3, flt=ListFilter(exclude_blocked=True))
    assert top[0].id not in [r.id for r in served] and served[0].id == top[1].id
    gw.delete([top[1].id])
    assert top[1].id not in [r.id for r in gw.search([ns], query, limit=10)]
    added = gw.add(ns, query, {"kind": LEARNED_KIND})  # the query's own words: the best match now
    assert gw.search([ns], query, limit=1)[0].id == added.id
    assert gw.count([ns]) == 600 and gw.list([ns], limit=1).total == 600  # +1 added, -1 deleted


def test_a_namespace_too_large_to_copy_is_ranked_in_sql(gw, monkeypatch):
    ns = namespace()
    texts = corpus.memories(50, seed=33)
    gw.bulk_insert(ns, texts, vectors=gw.embed_many(texts))
    monkeypatch.setattr(gw.vectors, "budget", 0)
    query = corpus.queries(1, seed=34)[0]
    assert [r.id for r in gw.search([ns], query, limit=5)] == exact_ids(gw, ns, query, 5)
    assert ns not in gw.vectors._entries


def test_a_warm_search_is_one_statement_and_one_round_trip(gw, tmp_path):
    """What the gateway sends PostgreSQL for a warm search (libpq's protocol trace): one
    statement, the ten rows and the namespace's version together; no BEGIN and no COMMIT
    around it (each a round trip of its own)."""
    ns = namespace()
    texts = corpus.memories(300, seed=35)
    gw.bulk_insert(ns, texts, vectors=np.asarray(gw.embed_many(texts)).tolist())
    gw.search([ns], "warm", limit=10)
    trace = tmp_path / "libpq.trace"
    real = gw._pool.connection

    @contextmanager
    def traced(*args, **kwargs):
        with real(*args, **kwargs) as conn, open(trace, "a") as out:
            conn.pgconn.trace(out.fileno())
            try:
                yield conn
            finally:
                conn.pgconn.untrace()

    gw._pool.connection = traced
    try:
        assert len(gw.search([ns], corpus.queries(1, seed=36)[0], limit=10)) == 10
    finally:
        del gw._pool.connection
    text = trace.read_text()
    sent = [line.split("\t")[1:] for line in text.splitlines() if "\tF\t" in line]  # time, F, length, message
    executed = [m for m in sent if m[2] in ("Query", "Bind")]  # a Bind runs a (maybe prepared) statement
    assert len(executed) == 1, text[:2000]
    assert not any(word in line for line in text.splitlines() for word in ('"BEGIN"', '"COMMIT"'))


def test_rows_the_filters_leave_out_are_made_up_by_further_reads(gw):
    """The best 25 rows are 🚫 (more than one read's spare rows): the answer is still the
    exact ranking of the rest."""
    ns = namespace()
    texts = corpus.memories(400, seed=37)
    gw.bulk_insert(ns, texts, vectors=gw.embed_many(texts), metadata={"kind": LEARNED_KIND})
    query = corpus.queries(1, seed=38)[0]
    ranked = exact_ids(gw, ns, query, k=40)
    gw.set_metadata_many({memory_id: {"rating": "VERY_NEGATIVE"} for memory_id in ranked[:25]})
    served = gw.search([ns], query, limit=10, flt=ListFilter(exclude_blocked=True))
    assert [r.id for r in served] == ranked[25:35]


def test_threads_asking_for_a_namespace_not_copied_yet_share_one_copy(gw):
    """Sixteen threads of a web worker search a child at once (the first turn after a
    restart): the namespace is read once, not sixteen times."""
    import threading

    ns = namespace()
    texts = corpus.memories(2000, seed=39)
    gw.bulk_insert(ns, texts, vectors=gw.embed_many(texts), metadata={"kind": LEARNED_KIND})
    query = corpus.queries(1, seed=40)[0]
    loads, start, answers = gw.vectors.stats["loads"], threading.Barrier(16), []

    def ask():
        start.wait(30)
        answers.append([r.id for r in gw.search([ns], query, limit=10)])

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert gw.vectors.stats["loads"] == loads + 1
    assert answers == [exact_ids(gw, ns, query)] * 16


def test_queries_ranked_on_one_copy_at_the_same_moment_share_one_pass():
    """While one ranking runs, the queries that arrive for the same copy wait and are ranked
    together (one read of the matrix), each getting exactly its own scores."""
    rng = np.random.default_rng(40)
    matrix = rng.standard_normal((500, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    entry = vectors.NamespaceVectors(version=1, ids=[str(i) for i in range(500)], matrix=matrix)
    queries = list(matrix[:9] + 0.1)
    started, release, batches = threading.Event(), threading.Event(), []
    real = entry.ranker._run

    def run(items):
        batches.append(len(items))
        started.set()
        release.wait(30)
        return real(items)

    entry.ranker._run = run
    results = {}

    def rank(i):
        results[i] = vectors.scores(entry, queries[i])

    first = threading.Thread(target=rank, args=(0,))
    first.start()
    assert started.wait(30)
    others = [threading.Thread(target=rank, args=(i,)) for i in range(1, 9)]
    for t in others:
        t.start()
    while entry.ranker.waiting < len(others):
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *others]:
        t.join(30)
    assert batches == [1, 8]
    for i, query in enumerate(queries):
        assert np.abs(results[i] - matrix @ query).max() < 1e-5
        assert list(vectors.best(results[i], 10)) == list(np.argsort(-(matrix @ query), kind="stable")[:10])
