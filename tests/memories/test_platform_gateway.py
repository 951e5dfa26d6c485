"""PlatformGateway against a stand-in Mem0 Platform speaking its wire format over HTTP: what
only this backend does (the requests it makes, queued adds, errors). What both backends do
is in test_gateway_contract.py."""


import pytest
from django.core.exceptions import ImproperlyConfigured

from memories import gateway
from memories.gateway import PARENT_KIND, ListFilter, Mem0Unavailable, PlatformGateway
from tests.fakes.mem0_platform import FakeMem0Platform

NS, OTHER, THIRD = (f"child_{n * 32}" for n in "abc")  # opaque ids of child profiles


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


def test_add_sends_the_message_verbatim(pgw, platform):
    added = pgw.add(NS, "Mia loves dinosaurs", {"kind": PARENT_KIND, "source": "parent"})

    assert added.id in platform.memories
    assert pgw.get(added.id) == added
    body = platform.seen("POST", "/v3/memories/add/")[0].body
    assert body["user_id"] == NS and body["infer"] is False
    assert body["messages"] == [{"role": "user", "content": "Mia loves dinosaurs"}]


def test_add_waits_for_the_queued_event(pgw, platform):
    platform.pending_polls = 2

    added = pgw.add(NS, "likes trains")

    assert added.id and pgw.get(added.id).text == "likes trains"
    (event_id,) = platform.events
    assert len(platform.seen("GET", f"/v1/event/{event_id}/")) == 3


def test_add_still_queued_after_event_wait_is_unavailable_not_a_record_without_id(pgw, platform):
    platform.pending_polls = 1000
    pgw.event_wait = 0.2

    with pytest.raises(Mem0Unavailable):
        pgw.add(NS, "likes boats", {"kind": PARENT_KIND})


def test_conversation_still_queued_after_event_wait_is_no_ids_yet(pgw, platform):
    platform.pending_polls = 1000
    pgw.event_wait = 0.2

    assert pgw.add_conversation(NS, [{"role": "user", "content": "I got a puppy"}]) == []


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


def test_a_list_page_reads_only_the_platform_page_it_shows(pgw, platform):
    ids = [platform.seed(NS, f"memory number {i}")["id"] for i in range(250)]
    platform.requests.clear()

    page = pgw.list([NS], offset=200, limit=50)

    assert (page.total, [r.id for r in page.items]) == (250, ids[49::-1])
    assert [r.query for r in platform.seen("POST", "/v3/memories/")] == [{"page": "5", "page_size": "50"}]
    platform.requests.clear()
    assert pgw.list([NS], offset=260, limit=50) == gateway.Page([], 250)  # past the end: the total only
    assert len(platform.seen("POST", "/v3/memories/")) == 2


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


def test_search_asks_for_more_candidates_only_when_a_filter_narrows_them(pgw, platform):
    platform.seed(NS, "Mia loves dinosaurs and volcanoes")
    blocked = platform.seed(NS, "dinosaurs are scary", {"rating": "VERY_NEGATIVE"})

    assert len(pgw.search([NS], "dinosaurs volcanoes", limit=2)) == 2
    hits = pgw.search([NS], "dinosaurs", limit=2, flt=ListFilter(exclude_blocked=True))

    assert blocked["id"] not in {h.id for h in hits}
    bodies = [r.body for r in platform.seen("POST", "/v3/memories/search/")]
    assert [(b["top_k"], b["threshold"], b["filters"]) for b in bodies] == [(2, 0.0, {"AND": [{"user_id": NS}]}),
                                                                          (50, 0.0, {"AND": [{"user_id": NS}]})]


def test_set_metadata_many_is_one_batch(pgw, platform):
    a, b = pgw.add(NS, "a", {"kind": PARENT_KIND}), pgw.add(NS, "b")

    pgw.set_metadata_many({a.id: {"category": "food"}, b.id: {"category": "pets"}})

    assert platform.memories[a.id]["metadata"] == {"kind": PARENT_KIND, "category": "food"}
    assert platform.memories[b.id]["metadata"] == {"category": "pets"}
    assert len(platform.seen("PUT", "/v1/batch/")) == 1


def test_purge_deletes_the_memories_then_the_user_entity(pgw, platform):
    for i in range(5):
        platform.seed(NS, f"secret {i}")
    platform.seed(OTHER, "someone else")
    assert pgw.traces(NS) == {"vectors": 5, "entities": 1}

    assert pgw.purge_namespace(NS) == 5

    assert pgw.traces(NS) == {"vectors": 0, "entities": 0}
    assert ("user", NS) not in platform.entities and ("user", OTHER) in platform.entities
    assert platform.seen("DELETE", "/v1/memories/")[0].query == {"user_id": NS}
    assert len(platform.seen("DELETE", f"/v2/entities/user/{NS}/")) == 1
    assert pgw.purge_namespace(NS) == 0  # no entity left: still no error


def test_traces_see_an_entity_left_without_memories(pgw, platform):
    gone = platform.seed(NS, "secret")
    pgw.delete([gone["id"]])

    assert pgw.traces(NS) == {"vectors": 0, "entities": 1}


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
