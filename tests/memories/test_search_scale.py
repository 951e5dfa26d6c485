"""Search in a namespace above ``EXACT_MAX`` memories takes HNSW candidates (iterative scan)
and re-ranks them exactly, and still finds exactly what an exact ranking finds
(recall@10 = 1.0), next to other namespaces of similar text; a namespace that is a small
share of the store is ranked exactly."""

import time
import uuid

import numpy as np
import pytest

from memories.bench import corpus
from memories.gateway import PARENT_KIND, ListFilter, local

TEST_EXACT_MAX = 2_000  # the path's threshold in these tests (the same code as above 20,000)
CHILD_SIZE = TEST_EXACT_MAX + 500


@pytest.fixture(autouse=True)
def _smaller_threshold(monkeypatch, gw):
    """The threshold lowered, and the store's size as this test's rows make it (the session's
    collection also holds other tests' rows)."""
    monkeypatch.setattr(local, "EXACT_MAX", TEST_EXACT_MAX)
    monkeypatch.setattr(gw.vectors, "budget", 0)  # too large for the process's vector copy
    gw._rows = (CHILD_SIZE + 4_000, time.monotonic() + 3600)
    yield
    gw._rows = (0.0, 0.0)


def namespace() -> str:
    return f"child_{uuid.uuid4().hex}"


@pytest.fixture
def large_child(gw):
    """A child above EXACT_MAX (50 of them added by a parent) and 40 other children of
    realistic text around it (other names, other seeds: the same topics)."""
    # A store of realistic memories only, as the benchmark measures (earlier tests of the
    # session leave thousands of identical synthetic vectors, which no real store holds).
    with gw._cursor(commit=True) as cur:
        cur.execute("TRUNCATE " + ", ".join(f'"{table}"' for table in gw.tables))
    ns = namespace()
    texts = corpus.memories(CHILD_SIZE, seed=21, child="Rahul")
    vectors = np.asarray(gw.embed_many(texts), dtype=np.float32)
    ids = gw.bulk_insert(ns, texts[:-50], vectors=vectors[:-50].tolist())
    ids += gw.bulk_insert(ns, texts[-50:], vectors=vectors[-50:].tolist(), metadata={"kind": PARENT_KIND})
    for i, name in enumerate(corpus.NAMES[:40]):
        others = corpus.memories(100, seed=100 + i, child=name)
        gw.bulk_insert(namespace(), others, vectors=gw.embed_many(others))
    return ns, ids, vectors


def exact_top(vectors, ids, query_vector, k):
    scores = vectors @ query_vector
    order = np.argsort(-scores)
    return [(ids[i], float(scores[i])) for i in order[:k]], float(scores[order[k - 1]])


def misses(found, truth, kth_score):
    """True neighbours not returned, ties at the k-th score aside (float rounding may order
    equal scores either way)."""
    got = {r.id for r in found}
    return [(i, s) for i, s in truth if i not in got and s > kth_score + 1e-5]


def test_a_large_namespace_takes_hnsw_candidates_with_recall_one(gw, large_child, monkeypatch):
    ns, ids, vectors = large_child
    calls = []
    real = gw._hnsw_candidates

    def counted(*args, **kwargs):
        rows = real(*args, **kwargs)
        calls.append(len(rows))
        return rows

    monkeypatch.setattr(gw, "_hnsw_candidates", counted)
    queries = corpus.queries(60, seed=23)
    for query in queries:
        found = gw.search([ns], query, limit=10)
        truth, kth = exact_top(vectors, ids, np.asarray(gw.embed(query), dtype=np.float32), 10)
        assert len(found) == 10
        assert not misses(found, truth, kth), query
        assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
        assert all(r.namespace == ns for r in found)
    assert len(calls) == len(queries) and min(calls) >= local.CANDIDATES  # no exact fallback needed

    # A filter that leaves fewer rows than the candidates asked for: the exact ranking answers.
    parent_ids, parent_vectors = ids[-50:], vectors[-50:]
    for query in corpus.queries(10, seed=24):
        found = gw.search([ns], query, limit=10, flt=ListFilter(kinds=(PARENT_KIND,)))
        truth, kth = exact_top(parent_vectors, parent_ids, np.asarray(gw.embed(query), dtype=np.float32), 10)
        assert len(found) == 10 and {r.id for r in found} <= set(parent_ids)
        assert not misses(found, truth, kth)

    # The same namespace as a small share of a (much) larger store: ranked exactly, no HNSW.
    before = len(calls)
    gw._rows = (CHILD_SIZE / local.HNSW_MIN_SHARE * 2, time.monotonic() + 600)
    try:
        for query in queries[:5]:
            found = gw.search([ns], query, limit=10)
            truth, kth = exact_top(vectors, ids, np.asarray(gw.embed(query), dtype=np.float32), 10)
            assert len(found) == 10 and not misses(found, truth, kth)
    finally:
        gw._rows = (CHILD_SIZE + 4_000, time.monotonic() + 3600)
    assert len(calls) == before
