"""PlatformGateway against a stand-in Mem0 Platform speaking its wire format over HTTP."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from memories import gateway
from memories.gateway import (
    LEARNED_KIND,
    PARENT_KIND,
    PROFILE_KIND,
    ListFilter,
    Mem0Unavailable,
    PlatformGateway,
)
from tests.fakes.mem0_platform import FakeMem0Platform

NS, OTHER, THIRD = "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02", "aa:bb:cc:00:00:03"


@pytest.fixture
def platform():
    fake = FakeMem0Platform().start()
    yield fake
    fake.stop()


@pytest.fixture
def pgw(platform, settings):
    settings.MEM0_API_KEY = platform.api_key
    settings.MEM0_HOST = platform.url
    return PlatformGateway()


def test_add_then_get_returns_what_was_stored(pgw, platform):
    added = pgw.add(NS, "Mia loves dinosaurs", {"kind": PARENT_KIND, "source": "parent"})

    assert added.id in platform.memories
    assert (added.namespace, added.text, added.kind) == (NS, "Mia loves dinosaurs", PARENT_KIND)
    assert added.metadata == {"kind": PARENT_KIND, "source": "parent"}
    assert added.created_at is not None and added.created_at.tzinfo is not None
    assert pgw.get(added.id) == added
    body = platform.seen("POST", "/v3/memories/add/")[0].body
    assert body["user_id"] == NS and body["infer"] is False
    assert body["messages"] == [{"role": "user", "content": "Mia loves dinosaurs"}]


def test_get_unknown_memory_is_none(pgw):
    assert pgw.get("00000000-0000-4000-8000-000000000000") is None


def test_add_waits_for_the_queued_event(pgw, platform):
    platform.pending_polls = 2

    added = pgw.add(NS, "likes trains")

    assert added.id and pgw.get(added.id).text == "likes trains"
    (event_id,) = platform.events
    assert len(platform.seen("GET", f"/v1/event/{event_id}/")) == 3


def test_add_still_queued_after_event_wait_returns_what_was_sent(pgw, platform):
    platform.pending_polls = 1000
    pgw.event_wait = 0.2

    added = pgw.add(NS, "likes boats", {"kind": PARENT_KIND})

    assert (added.id, added.namespace, added.text, added.metadata) == ("", NS, "likes boats", {"kind": PARENT_KIND})


def test_list_is_complete_across_pages_and_newest_first(pgw, platform):
    ids = [pgw.add(NS, f"memory number {i}").id for i in range(250)]

    page = pgw.list([NS], limit=1000)

    assert page.total == 250
    assert [r.id for r in page.items] == ids[::-1]
    assert all(a.created_at > b.created_at for a, b in zip(page.items, page.items[1:], strict=False))
    pages = [r.query for r in platform.seen("POST", "/v3/memories/")]
    assert [q["page"] for q in pages] == ["1", "2", "3"]
    assert all(int(q["page_size"]) <= 100 for q in pages)
    tail = pgw.list([NS], offset=240, limit=50)
    assert (tail.total, [r.id for r in tail.items]) == (250, ids[9::-1])
    assert [r.id for r in pgw.iter_all([NS])] == ids[::-1]
    assert pgw.count([NS]) == 250


def test_list_breaks_ties_within_a_second_by_id_like_the_local_backend(pgw, platform):
    first = platform.seed(NS, "d")
    ids = [first["id"]] + [platform.seed(NS, text, at=first["created_at"])["id"] for text in ("b", "a", "c")]
    newer = platform.seed(NS, "newer")["id"]

    listed = [r.id for r in pgw.list([NS]).items]

    assert listed == [newer, *sorted(ids, reverse=True)]


def test_list_of_several_namespaces(pgw, platform):
    mine = [platform.seed(NS, "a")["id"], platform.seed(OTHER, "b")["id"]]
    platform.seed(THIRD, "not mine")
    mine.append(platform.seed(OTHER, "c")["id"])

    page = pgw.list([NS, OTHER])

    assert [r.id for r in page.items] == mine[::-1]
    assert {r.namespace for r in page.items} == {NS, OTHER}
    assert platform.seen("POST", "/v3/memories/")[-1].body["filters"] == {"OR": [{"user_id": NS}, {"user_id": OTHER}]}
    assert pgw.list([]) == gateway.Page([], 0)


def test_list_filters(pgw, platform):
    profile = platform.seed(NS, "Profile: Mia, 6", {"kind": PROFILE_KIND})
    parent = platform.seed(NS, "Mia has a cat called Tiger", {"kind": PARENT_KIND, "category": "pets",
                                                               "rating": "POSITIVE"})
    learned = platform.seed(NS, "Mia is scared of thunder", {"category": "feelings", "rating": "VERY_NEGATIVE"})
    plain = platform.seed(NS, "Mia builds LEGO towers")

    def ids(**kw):
        return {r.id for r in pgw.list([NS], flt=ListFilter(**kw)).items}

    assert ids(kinds=(LEARNED_KIND,)) == {learned["id"], plain["id"]}
    assert ids(kinds=(PROFILE_KIND, PARENT_KIND)) == {profile["id"], parent["id"]}
    assert ids(categories=("pets",)) == {parent["id"]}
    assert ids(categories=("other",)) == {profile["id"], plain["id"]}
    assert ids(ratings=("none",)) == {profile["id"], plain["id"]}
    assert ids(ratings=("VERY_NEGATIVE", "none")) == {profile["id"], learned["id"], plain["id"]}
    assert ids(exclude_blocked=True) == {profile["id"], parent["id"], plain["id"]}
    assert ids(text="mia HAS") == {parent["id"]}
    start = pgw.get(parent["id"]).created_at
    assert ids(created_from=start, created_to=start + timedelta(seconds=2)) == {parent["id"], learned["id"]}
    assert pgw.list([NS], flt=ListFilter(kinds=(LEARNED_KIND,))).total == 2
    assert pgw.count([NS], exclude_kinds=[PROFILE_KIND]) == 3


def test_search_ranks_inside_the_namespaces(pgw, platform):
    platform.seed(NS, "Mia loves dinosaurs and volcanoes")
    blocked = platform.seed(NS, "dinosaurs are scary", {"rating": "VERY_NEGATIVE"})
    platform.seed(NS, "Mia plays football")
    platform.seed(OTHER, "dinosaurs everywhere")

    hits = pgw.search([NS], "dinosaurs volcanoes", limit=2)

    assert [h.text for h in hits] == ["Mia loves dinosaurs and volcanoes", "dinosaurs are scary"]
    assert hits[0].score > hits[1].score > 0
    assert all(h.namespace == NS for h in pgw.search([NS], "dinosaurs", limit=10))
    assert blocked["id"] not in {h.id for h in pgw.search([NS], "dinosaurs", flt=ListFilter(exclude_blocked=True))}
    assert platform.seen("POST", "/v3/memories/search/")[0].body["top_k"] == 2
    assert pgw.search([NS], "   ") == [] and pgw.search([], "dinosaurs") == []


def test_update_changes_text_and_history(pgw, platform):
    memory = pgw.add(NS, "Mia is 5", {"kind": PROFILE_KIND})

    updated = pgw.update(memory.id, text="Mia is 6")

    assert (updated.id, updated.text, updated.metadata) == (memory.id, "Mia is 6", {"kind": PROFILE_KIND})
    events = [(h.event, h.old_text, h.new_text) for h in pgw.history(memory.id)]
    assert events == [("ADD", None, "Mia is 5"), ("UPDATE", "Mia is 5", "Mia is 6")]
    assert pgw.update("00000000-0000-4000-8000-000000000000", text="x") is None
    assert pgw.history("00000000-0000-4000-8000-000000000000") == []


def test_set_metadata_merges_and_none_removes(pgw, platform):
    memory = pgw.add(NS, "Mia likes pizza", {"kind": PARENT_KIND, "rating": "NEGATIVE"})

    pgw.set_metadata(memory.id, category="food", rating=None)

    assert platform.memories[memory.id]["metadata"] == {"kind": PARENT_KIND, "category": "food"}
    assert pgw.get(memory.id).text == "Mia likes pizza"


def test_set_metadata_many_is_one_batch(pgw, platform):
    a, b = pgw.add(NS, "a", {"kind": PARENT_KIND}), pgw.add(NS, "b")

    pgw.set_metadata_many({a.id: {"category": "food"}, b.id: {"category": "pets"}})

    assert platform.memories[a.id]["metadata"] == {"kind": PARENT_KIND, "category": "food"}
    assert platform.memories[b.id]["metadata"] == {"category": "pets"}
    assert len(platform.seen("PUT", "/v1/batch/")) == 1


def test_delete_is_idempotent(pgw, platform):
    keep, gone = pgw.add(NS, "keep"), pgw.add(NS, "gone")

    assert pgw.delete([gone.id]) == 1
    assert pgw.delete([gone.id]) == 0
    assert pgw.get(gone.id) is None and pgw.get(keep.id) is not None


def test_purge_namespace_leaves_nothing(pgw, platform):
    for i in range(5):
        platform.seed(NS, f"secret {i}")
    other = platform.seed(OTHER, "someone else")

    assert pgw.purge_namespace(NS) == 5

    assert pgw.count([NS]) == 0 and pgw.list([NS]).total == 0
    assert pgw.traces(NS) == {"vectors": 0}
    assert pgw.get(other["id"]) is not None
    assert platform.seen("DELETE", "/v1/memories/")[0].query == {"user_id": NS}
    with pytest.raises(ValueError):
        pgw.purge_namespace("")


def test_feedback_reaches_the_platform(pgw, platform):
    memory = pgw.add(NS, "Mia is scared of the dark")

    pgw.feedback(memory.id, "VERY_NEGATIVE", "frightening")
    pgw.feedback(memory.id, None)

    assert platform.feedback == [
        {"memory_id": memory.id, "feedback": "VERY_NEGATIVE", "feedback_reason": "frightening"},
        {"memory_id": memory.id, "feedback": None, "feedback_reason": None},
    ]


def test_add_conversation_passes_the_prompt_as_custom_instructions(pgw, platform):
    messages = [{"role": "user", "content": "I got a puppy named Rex"},
                {"role": "assistant", "content": "How lovely!"}]

    ids = pgw.add_conversation(NS, messages, prompt="Only remember pets.", metadata={"session": "s1"})

    body = platform.seen("POST", "/v3/memories/add/")[0].body
    assert (body["infer"], body["custom_instructions"], body["user_id"]) == (True, "Only remember pets.", NS)
    assert body["messages"] == messages and body["metadata"] == {"session": "s1"}
    assert [platform.memories[i]["memory"] for i in ids] == ["I got a puppy named Rex"]


def test_unavailable_platform_raises_mem0_unavailable(pgw, platform):
    memory = pgw.add(NS, "x")
    platform.unavailable = True

    for call in (lambda: pgw.list([NS]), lambda: pgw.get(memory.id), lambda: pgw.add(NS, "y"),
                 lambda: pgw.search([NS], "x"), lambda: pgw.delete([memory.id]), pgw.ping):
        with pytest.raises(Mem0Unavailable):
            call()


def test_unavailable_at_construction(platform, settings):
    settings.MEM0_API_KEY, settings.MEM0_HOST = platform.api_key, platform.url
    platform.unavailable = True

    with pytest.raises(Mem0Unavailable):
        PlatformGateway().ping()


def test_unreachable_platform_raises_mem0_unavailable(pgw, platform):
    pgw.ping()
    platform.stop()

    with pytest.raises(Mem0Unavailable):
        pgw.list([NS])


def test_wrong_api_key_is_a_clear_error(platform, settings):
    settings.MEM0_API_KEY, settings.MEM0_HOST = "m0-wrong", platform.url

    with pytest.raises(ImproperlyConfigured, match="MEM0_API_KEY"):
        PlatformGateway().list([NS])
    assert platform.requests[0].headers["Authorization"] == "Token m0-wrong"


def test_process_gateway_is_the_platform_when_a_key_is_set(platform, settings, monkeypatch):
    settings.MEM0_API_KEY, settings.MEM0_HOST = platform.api_key, platform.url
    monkeypatch.setattr(gateway, "_gateway", None)  # restored afterwards: the session's local one

    assert isinstance(gateway.get(), PlatformGateway)


def test_embeddings_come_from_the_local_model(pgw):
    one = pgw.embed("dinosaurs")
    many = pgw.embed_many(["dinosaurs", "football"])

    assert len(one) == 384 and len(many) == 2
    assert many[0] == pytest.approx(one, abs=1e-5)
    assert pgw.embed_many([]) == []
