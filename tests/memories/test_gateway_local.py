"""The local gateway on real Mem0 + pgvector: complete lists, scoped reads, purges."""

import pytest

from memories.gateway import ListFilter
from tests.conftest import unique_mac


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


def test_list_is_scoped_to_the_namespaces(gw):
    mine, other = unique_mac(), unique_mac()
    gw.add(mine, "likes kites", {})
    gw.add(other, "likes trains", {})
    assert [m.text for m in gw.list([mine]).items] == ["likes kites"]
    assert {m.text for m in gw.list([mine, other]).items} == {"likes kites", "likes trains"}
    assert gw.list([]).total == 0


def test_search_ranks_within_the_namespace(gw):
    ns, other = unique_mac(), unique_mac()
    gw.add(ns, "Rahul loves dinosaurs and the T-rex", {})
    gw.add(ns, "Rahul goes to football practice on Saturdays", {})
    gw.add(other, "Mia loves dinosaurs too", {})
    results = gw.search([ns], "which prehistoric animals does he like?", limit=5)
    assert [r.namespace for r in results] == [ns, ns]
    assert "dinosaurs" in results[0].text
    assert results[0].score > results[1].score


def test_text_filter_and_metadata(gw):
    ns = unique_mac()
    a = gw.add(ns, "50% of the time he says 'hello_world'", {})
    gw.add(ns, "something else", {})
    assert [m.id for m in gw.list([ns], flt=ListFilter(text="50%")).items] == [a.id]
    assert [m.id for m in gw.list([ns], flt=ListFilter(text="hello_w")).items] == [a.id]
    gw.set_metadata(a.id, rating="VERY_NEGATIVE", category="routines")
    assert gw.get(a.id).blocked
    assert gw.list([ns], flt=ListFilter(exclude_blocked=True)).total == 1
    gw.set_metadata(a.id, rating=None)
    assert gw.get(a.id).rating is None and gw.get(a.id).category == "routines"


def test_get_of_a_malformed_or_unknown_id_is_none(gw):
    assert gw.get("not-a-uuid") is None
    assert gw.get("00000000-0000-0000-0000-000000000000") is None


def test_delete_leaves_no_trace_in_any_store(gw):
    ns = unique_mac()
    marker = "zebra-marker-7f3a"
    m = gw.add(ns, f"the secret word is {marker}", {})
    gw.update(m.id, text=f"the secret word is still {marker}")
    assert gw.traces(ns, marker=marker, memory_ids=[m.id])["marker_history"] == 2
    gw.delete([m.id])
    traces = gw.traces(ns, marker=marker, memory_ids=[m.id])
    assert traces == {"vectors": 0, "entities": 0, "marker_vectors": 0, "messages": 0, "history": 0,
                      "marker_history": 0, "marker_messages": 0}


@pytest.mark.parametrize("count", [3])
def test_purge_namespace_erases_everything_but_nothing_else(gw, count):
    ns, other = unique_mac(), unique_mac()
    ids = [gw.add(ns, f"fact {i}", {}).id for i in range(count)]
    keep = gw.add(other, "keep me", {})
    assert gw.purge_namespace(ns) == count
    assert gw.traces(ns, memory_ids=ids)["vectors"] == 0
    assert gw.traces(ns, memory_ids=ids)["history"] == 0
    assert gw.get(keep.id) is not None


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
