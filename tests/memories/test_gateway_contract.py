"""The contract both gateway backends keep (``memories.gateway.store.MemoryStore``): the local
one on real Mem0 + pgvector, the Platform one through the stand-in speaking its wire format."""

import uuid
from datetime import timedelta, timezone

import pytest

from memories.gateway import (
    LEARNED_KIND,
    PARENT_KIND,
    PROFILE_KIND,
    ListFilter,
    LocalGateway,
    MemoryStore,
    Page,
    PlatformGateway,
)
from tests.fakes.mem0_platform import FakeMem0Platform

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def namespace() -> str:
    """A child's namespace no other test uses (Mem0's local tables are shared by the session)."""
    return f"child_{uuid.uuid4().hex}"


@pytest.fixture(params=["local", "platform"])
def store(request, db) -> MemoryStore:
    if request.param == "local":
        return request.getfixturevalue("gw")
    fake = FakeMem0Platform().start()
    request.addfinalizer(fake.stop)
    platform = PlatformGateway(api_key=fake.api_key, host=fake.url)
    request.addfinalizer(platform.close)
    return platform


def test_both_backends_keep_the_protocol(store):
    assert isinstance(store, MemoryStore)
    assert isinstance(store, LocalGateway | PlatformGateway)


def test_list_is_newest_first_with_the_total_and_pages(store):
    ns, other = namespace(), namespace()
    ids = [store.add(ns, f"memory number {i}").id for i in range(7)]
    theirs = store.add(other, "not mine").id

    pages = [store.list([ns], offset=offset, limit=3) for offset in (0, 3, 6)]

    assert [page.total for page in pages] == [7, 7, 7]
    assert [[r.id for r in page.items] for page in pages] == [ids[:3:-1], ids[3:0:-1], ids[:1]]
    assert all(a.created_at >= b.created_at for a, b in zip(pages[0].items, pages[0].items[1:], strict=False))
    assert store.list([ns], offset=9, limit=3) == Page([], 7)
    assert store.list([ns], limit=0).total == 7
    both = store.list([ns, other], limit=50)
    assert (both.total, both.items[0].id) == (8, theirs)
    assert store.list([]) == Page([], 0)
    assert store.count([ns]) == 7 and store.count([]) == 0
    assert [r.id for r in store.iter_all([ns], batch=2)] == ids[::-1]


def test_each_list_filter_narrows_the_list(store):
    ns = namespace()
    profile = store.add(ns, "Profile: Mia, 6", {"kind": PROFILE_KIND})
    parent = store.add(ns, "Mia has a cat called Tiger", {"kind": PARENT_KIND, "category": "pets",
                                                          "device_id": "7"})
    learned = store.add(ns, "Mia is scared of thunder", {"category": "feelings"})
    plain = store.add(ns, "Mia builds LEGO towers 50% of the time_x")
    store.set_metadata(parent.id, rating="POSITIVE")
    store.set_metadata(learned.id, rating="VERY_NEGATIVE")

    def ids(**kw):
        page = store.list([ns], flt=ListFilter(**kw))
        assert page.total == len(page.items)
        return {r.id for r in page.items}

    assert ids(kinds=(LEARNED_KIND,)) == {learned.id, plain.id}
    assert ids(kinds=(PROFILE_KIND, PARENT_KIND)) == {profile.id, parent.id}
    assert ids(categories=("pets",)) == {parent.id}
    assert ids(categories=("other",)) == {profile.id, plain.id}
    assert ids(ratings=("none",)) == {profile.id, plain.id}
    assert ids(ratings=("VERY_NEGATIVE", "POSITIVE")) == {parent.id, learned.id}
    assert ids(exclude_blocked=True) == {profile.id, parent.id, plain.id}
    assert ids(device_ids=("7",)) == {parent.id}
    assert ids(text="mia HAS") == {parent.id}
    assert ids(text="50%") == ids(text="e_x") == {plain.id}  # wildcards are plain characters
    assert ids(text="5_%") == set()
    east = timezone(timedelta(hours=5))  # bounds in another offset than the stored times
    start, end = (store.get(m.id).created_at.astimezone(east) for m in (parent, plain))
    assert ids(created_from=start, created_to=end) == {parent.id, learned.id}
    assert ids(created_from=end) == {plain.id}
    assert store.count([ns], exclude_kinds=[PROFILE_KIND]) == 3


def test_search_ranks_inside_the_namespaces(store):
    ns, other = namespace(), namespace()
    best = store.add(ns, "Mia loves dinosaurs and volcanoes")
    blocked = store.add(ns, "dinosaurs are scary")
    store.add(ns, "Mia plays football on Saturdays")
    store.add(other, "dinosaurs and volcanoes everywhere")
    store.set_metadata(blocked.id, rating="VERY_NEGATIVE")

    hits = store.search([ns], "dinosaurs and volcanoes", limit=2)

    assert [h.id for h in hits] == [best.id, blocked.id]
    assert hits[0].score >= hits[1].score
    assert {h.namespace for h in store.search([ns], "dinosaurs", limit=10)} == {ns}
    assert blocked.id not in {h.id for h in store.search([ns], "dinosaurs", flt=ListFilter(exclude_blocked=True))}
    assert store.search([ns], "   ") == [] and store.search([], "dinosaurs") == []


def test_get_returns_what_was_stored(store):
    ns = namespace()
    added = store.add(ns, "Mia loves dinosaurs", {"kind": PARENT_KIND, "source": "parent"})

    got = store.get(added.id)

    assert (got.id, got.namespace, got.text, got.kind) == (added.id, ns, "Mia loves dinosaurs", PARENT_KIND)
    assert got.metadata == {"kind": PARENT_KIND, "source": "parent"} == added.metadata
    assert got.created_at is not None and got.created_at.tzinfo is not None
    assert store.get(UNKNOWN) is None and store.get("not-a-uuid") is None


def test_update_changes_the_text_keeps_metadata_and_writes_history(store):
    memory = store.add(namespace(), "Mia is 5", {"kind": PROFILE_KIND})

    updated = store.update(memory.id, text="Mia is 6")

    assert (updated.id, updated.text, updated.metadata) == (memory.id, "Mia is 6", {"kind": PROFILE_KIND})
    history = store.history(memory.id)
    assert [(h.event, h.old_text, h.new_text) for h in history] == [("ADD", None, "Mia is 5"),
                                                                     ("UPDATE", "Mia is 5", "Mia is 6")]
    assert history[0].at <= history[1].at
    assert store.update(UNKNOWN, text="x") is None
    assert store.history(UNKNOWN) == []


def test_set_metadata_merges_and_none_removes(store):
    a = store.add(namespace(), "Mia likes pizza", {"kind": PARENT_KIND, "rating": "NEGATIVE"})
    b = store.add(namespace(), "Mia likes pasta")

    store.set_metadata(a.id, category="food", rating=None)
    store.set_metadata_many({b.id: {"category": "food"}})

    assert store.get(a.id).metadata == {"kind": PARENT_KIND, "category": "food"}
    assert store.get(a.id).text == "Mia likes pizza"
    assert store.get(b.id).category == "food"
    assert [h.event for h in store.history(a.id)][:1] == ["ADD"]


def test_delete_is_idempotent(store):
    ns = namespace()
    keep, gone = store.add(ns, "keep"), store.add(ns, "gone")

    assert store.delete([gone.id]) == 1
    assert store.delete([gone.id, UNKNOWN, "not-a-uuid"]) == 0
    assert store.get(gone.id) is None and store.get(keep.id) is not None
    assert store.list([ns]).total == 1


def test_purge_leaves_nothing_in_any_store_and_nothing_else_goes(store):
    ns, other = namespace(), namespace()
    ids = [store.add(ns, f"secret {i}").id for i in range(3)]
    store.update(ids[0], text="secret 0, changed")
    keep = store.add(other, "someone else")
    assert store.traces(ns, memory_ids=ids)["vectors"] == 3

    assert store.purge_namespace(ns, known_ids=ids) == 3

    left = store.traces(ns, memory_ids=ids)
    assert left and not any(left.values()), left
    assert store.list([ns]).total == 0 and store.get(ids[0]) is None
    assert store.get(keep.id) is not None
    assert store.purge_namespace(ns) == 0  # again: nothing, no error
    with pytest.raises(ValueError):
        store.purge_namespace("")
    store.vacuum()


def test_ping(store):
    store.ping()
