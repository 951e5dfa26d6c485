"""The Mem0-compatible routes (memories.mem0_compat), in process, on both gateway backends:
the wire shapes MemoryClient reads, and the portal's rules on every read and write."""

import json

import pytest
from django.test import Client

from devices import services, tokens
from memories import conversations, sync
from memories import services as memory_services
from memories.erasure import erasure_start
from memories.gateway import PlatformGateway
from memories.models import Conversation, MemoryFeedback, MemoryUsage
from portal.models import AuditEvent
from tests.conftest import unique_mac
from tests.memories import conftest_api

backend, fake_llm, fleet = conftest_api.backend, conftest_api.fake_llm, conftest_api.fleet
llm = conftest_api.llm

pytestmark = pytest.mark.django_db
BASE = "/api/v1/mem0/"
SESSION = [
    {"role": "system", "content": "You are Buddy."},
    {"role": "assistant", "content": "Hi Rahul! What did you do today?"},
    {"role": "user", "content": "I built a volcano with my friend Arjun"},
    {"role": "assistant", "content": "Wow! Did it erupt?"},
    {"role": "user", "content": "Yes and I love dinosaurs too"},
]


def mem0(raw: str | None) -> Client:
    return Client(headers={"Authorization": f"Token {raw}"} if raw else {})


def post(client, route, body, **query):
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return client.post(BASE + route + suffix, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def toy(fleet):
    return mem0(fleet[1])


@pytest.fixture
def seeded(family, backend):
    """Child A's memories: the profile, two learned, one 🚫-rated by a parent; child B has one."""
    ns = family.child_a.namespace
    sync.child_push(family.child_a)
    kites = backend.add(ns, "Rahul loves flying kites with grandpa", {"kind": "learned"})
    arjun = backend.add(ns, "Rahul's best friend is Arjun", {"kind": "learned"})
    secret = backend.add(ns, "Rahul's secret hiding place is under the stairs", {"kind": "learned"})
    memory_services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=secret.id,
                                rating="VERY_NEGATIVE")
    mia = backend.add(family.child_b.namespace, "Mia has a cat called Biscuit", {"kind": "learned"})
    return {"kites": kites, "arjun": arjun, "secret": secret, "mia": mia}


# -- ping and the key --------------------------------------------------------------------------

def test_ping_answers_what_memory_client_checks(family, toy):
    response = toy.get(BASE + "v1/ping/", {"org_id": "x", "project_id": "y"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["org_id"] and body["project_id"]
    assert "no-store" in response["Cache-Control"]


def test_a_missing_wrong_or_revoked_key_is_401_with_a_detail(family, fleet):
    token, raw = fleet
    tokens.token_revoke(actor=family.admin, token=token)
    for client in (mem0(None), mem0("mpt_wrong"), mem0(raw), Client(headers={"Authorization": raw})):
        response = client.get(BASE + "v1/ping/")
        assert response.status_code == 401 and response.json()["detail"]


# -- search --------------------------------------------------------------------------------------

def test_search_answers_the_platform_shape_with_the_user_id_the_toy_sent(family, toy, seeded):
    sent = family.device_a.mac.upper()
    response = post(toy, "v3/memories/search/", {"query": "kites", "filters": {"user_id": sent}, "top_k": 5})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["memory"] == "Rahul loves flying kites with grandpa"
    assert set(results[0]) == {"id", "memory", "user_id", "agent_id", "app_id", "run_id", "metadata",
                               "categories", "score", "created_at", "updated_at"}
    assert all(r["user_id"] == sent for r in results)
    assert family.child_a.namespace not in response.content.decode()
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert "." in results[0]["updated_at"] and "T" in results[0]["updated_at"]
    assert seeded["mia"].id not in {r["id"] for r in results}


def test_search_never_serves_a_blocked_memory_and_counts_what_it_serves(family, toy, seeded):
    body = {"query": "secret hiding place stairs", "filters": {"user_id": family.device_a.mac}, "top_k": 50}
    served = post(toy, "v3/memories/search/", body).json()["results"]
    ids = {r["id"] for r in served}
    assert seeded["secret"].id not in ids and {seeded["kites"].id, seeded["arjun"].id} <= ids
    usage = set(MemoryUsage.objects.filter(device=family.device_a).values_list("memory_id", flat=True))
    assert usage == ids


def test_a_blocked_rating_still_waiting_for_its_mirror_is_not_served(family, toy, seeded, backend):
    # Mem0 was down when the parent rated it: our record says 🚫, the store's copy not yet.
    MemoryFeedback.objects.create(memory_id=seeded["arjun"].id, namespace=family.child_a.namespace,
                                  child=family.child_a, rating="VERY_NEGATIVE")
    body = {"query": "best friend", "filters": {"user_id": family.device_a.mac}}
    assert seeded["arjun"].id not in {r["id"] for r in post(toy, "v3/memories/search/", body).json()["results"]}


@pytest.mark.parametrize("shape", [
    lambda mac: {"user_id": mac},  # mem0ai 1.0 (xiaozhi): user_id at the top level
    lambda mac: {"filters": {"OR": [{"user_id": mac}, {"agent_id": "buddy"}, {"run_id": "s1"}]}},  # pipecat
    lambda mac: {"filters": {"AND": [{"user_id": mac}]}, "limit": 10},
    lambda mac: {"filters": {"user_id": {"in": [mac]}}},
])
def test_search_v2_takes_every_shape_that_names_one_toy(family, toy, seeded, shape):
    body = {"query": "kites", "org_id": "memory-portal", "project_id": "toys", **shape(family.device_a.mac)}
    response = post(toy, "v2/memories/search/", body)
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["id"] == seeded["kites"].id


def test_paused_memory_off_and_erasing_answer_empty_and_are_audited(family, toy, seeded):
    body = {"query": "kites", "filters": {"user_id": family.device_a.mac}}
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
    assert post(toy, "v3/memories/search/", body).json() == {"results": []}
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=False)
    services.agent_save(actor=family.admin, agent=family.agent, memory_enabled=False)
    assert post(toy, "v3/memories/search/", body).json() == {"results": []}
    services.agent_save(actor=family.admin, agent=family.agent, memory_enabled=True)
    erasure_start(scope="memories", origin="parent", actor=family.parent_a, child=family.child_a, enqueue=False)
    assert post(toy, "v3/memories/search/", body).json() == {"results": []}
    assert post(toy, "v3/memories/", {"filters": {"user_id": family.device_a.mac}}).json()["results"] == []
    assert not MemoryUsage.objects.filter(device=family.device_a).exists()
    actions = list(AuditEvent.objects.filter(household=family.household_a, action__startswith="toy.")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["toy.search.paused", "toy.search.memory_off", "toy.search.erasing", "toy.list.erasing"]


def test_a_device_token_reaches_its_own_toy_only(family, seeded):
    _, raw = tokens.token_create(actor=family.admin, name="Robot A's server", device=family.device_a)
    own = mem0(raw)
    foreign = post(own, "v3/memories/search/", {"query": "cat", "filters": {"user_id": family.device_b.mac}})
    assert foreign.status_code == 404 and foreign.json()["detail"]
    implicit = post(own, "v3/memories/search/", {"query": "kites"})  # no user_id: the token's toy
    assert implicit.status_code == 200
    assert implicit.json()["results"][0]["user_id"] == family.device_a.mac


@pytest.mark.parametrize("body, status, code", [
    ({"query": "x", "filters": {"user_id": "rahul"}}, 422, "invalid_mac"),
    ({"query": "x", "filters": {"user_id": "child_" + "0" * 32}}, 422, "invalid_mac"),
    ({"query": "x", "filters": {"user_id": "*"}}, 422, "invalid_mac"),
    ({"query": "x"}, 422, "user_id_required"),
    ({"query": "x", "filters": {"user_id": unique_mac()}}, 404, "unknown_device"),
])
def test_what_names_no_toy_of_the_token_is_refused(family, toy, body, status, code):
    response = post(toy, "v3/memories/search/", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert AuditEvent.objects.filter(action="toy.search.refused", detail__code=code).exists()


def test_two_toys_in_one_call_are_refused_and_an_unlinked_toy_is_not_found(family, toy):
    both = {"query": "x", "filters": {"OR": [{"user_id": family.device_a.mac}, {"user_id": family.device_b.mac}]}}
    assert post(toy, "v3/memories/search/", both).json()["code"] == "several_toys"
    unlinked = services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac())
    response = post(toy, "v3/memories/search/", {"query": "x", "filters": {"user_id": unlinked.mac}})
    assert (response.status_code, response.json()["code"]) == (404, "device_unbound")


# -- get_all and get ----------------------------------------------------------------------------

def test_get_all_pages_newest_first_without_blocked_memories(family, toy, seeded):
    flt = {"filters": {"user_id": family.device_a.mac}}
    first = post(toy, "v3/memories/", flt, page=1, page_size=1).json()
    assert first["count"] == 3  # the profile, kites, arjun (not the 🚫 one)
    assert first["previous"] is None and "page=2" in first["next"]
    second = post(toy, "v3/memories/", flt, page=2, page_size=1).json()
    everything = post(toy, "v2/memories/", {**flt, "org_id": "memory-portal", "project_id": "toys"}).json()
    ids = [r["id"] for r in everything["results"]]
    assert ids[:2] == [first["results"][0]["id"], second["results"][0]["id"]]
    assert seeded["secret"].id not in ids and seeded["mia"].id not in ids
    assert {r["metadata"].get("kind") for r in everything["results"]} == {"child_profile", "learned"}
    assert post(toy, "v3/memories/", flt, page=9, page_size=1).status_code == 404


def test_get_one_memory_only_of_the_toys_child(family, toy, seeded):
    mine = toy.get(BASE + f"v1/memories/{seeded['kites'].id}/", {"user_id": family.device_a.mac})
    assert mine.status_code == 200 and mine.json()["memory"] == seeded["kites"].text
    by_fleet = toy.get(BASE + f"v1/memories/{seeded['kites'].id}/")  # the toy found from the memory
    assert by_fleet.json()["user_id"] == family.device_a.mac
    assert toy.get(BASE + f"v1/memories/{seeded['mia'].id}/", {"user_id": family.device_a.mac}).status_code == 404
    assert toy.get(BASE + f"v1/memories/{seeded['secret'].id}/").status_code == 404
    assert toy.get(BASE + "v1/memories/not-a-uuid/").status_code == 404
    _, raw = tokens.token_create(actor=family.admin, name="B only", device=family.device_b)
    assert mem0(raw).get(BASE + f"v1/memories/{seeded['kites'].id}/").status_code == 404


# -- add and its event ----------------------------------------------------------------------------

def test_add_is_a_conversation_like_the_conversations_route(family, toy, backend, request):
    response = post(toy, "v3/memories/add/", {"messages": SESSION, "user_id": family.device_a.mac,
                                              "metadata": {"child_name": "Rahul"}, "infer": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "PENDING" and body["event_id"]
    conversation = Conversation.objects.get()
    assert (conversation.device, conversation.child, conversation.state) == (family.device_a, family.child_a,
                                                                             "pending")
    assert [m["role"] for m in conversation.messages] == ["assistant", "user", "assistant", "user"]
    event = toy.get(BASE + f"v1/event/{body['event_id']}/").json()
    assert (event["status"], event["results"]) == ("PENDING", [])
    said = ["I built a volcano with my friend Arjun", "Yes and I love dinosaurs too"]
    if isinstance(backend, PlatformGateway):  # the Platform extracts, with the agent's memory prompt
        conversations.conversation_extract(conversation.pk)
        sent = backend.stand_in.seen("POST", "/v3/memories/add/")[-1].body
        assert (sent["user_id"], sent["custom_instructions"]) == (family.child_a.namespace,
                                                                  family.agent.memory_prompt)
    else:  # the local Mem0 asks the LLM, with the agent's memory prompt
        llm = request.getfixturevalue("llm")
        conversations.conversation_extract(conversation.pk)
        assert family.agent.memory_prompt in llm.user_prompts()[-1]
        said = [f"User says: {text}" for text in said]
    event = toy.get(BASE + f"v1/event/{body['event_id']}/").json()
    assert event["status"] == "SUCCEEDED" and len(event["results"]) == 2
    assert {backend.get(r["id"]).text for r in event["results"]} == set(said)


def test_add_v1_answers_in_a_results_list_and_events_are_the_tokens_own(family, toy):
    body = post(toy, "v1/memories/", {"messages": SESSION, "user_id": family.device_a.mac, "async_mode": True,
                                      "output_format": "v1.1", "org_id": "memory-portal"}).json()
    [queued] = body["results"]
    assert queued["status"] == "PENDING"
    _, raw = tokens.token_create(actor=family.admin, name="B only", device=family.device_b)
    assert mem0(raw).get(BASE + f"v1/event/{queued['event_id']}/").status_code == 404
    assert toy.get(BASE + "v1/event/not-an-event/").status_code == 404


def test_add_while_paused_is_dropped_counted_and_said(family, toy):
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
    body = post(toy, "v3/memories/add/", {"messages": SESSION, "user_id": family.device_a.mac}).json()
    assert body["status"] == "SUCCEEDED" and "paused" in body["message"]
    conversation = Conversation.objects.get()
    assert (conversation.state, conversation.drop_reason, conversation.messages) == ("dropped", "paused", [])
    assert AuditEvent.objects.filter(action="toy.add.paused", household=family.household_a, count=4).exists()


def test_a_long_session_is_trimmed_to_its_last_messages_not_refused(family, toy):
    turns = [{"role": "user" if i % 2 else "assistant", "content": f"turn {i} " + "x" * 1500} for i in range(250)]
    turns.append({"role": "user", "content": "the last words " + "y" * 9000})
    raw = json.dumps({"messages": turns, "user_id": family.device_a.mac})
    assert 256 * 1024 < len(raw) < 1024 * 1024  # over the toy API's limit, under Django's
    response = toy.post(BASE + "v3/memories/add/", data=raw, content_type="application/json")
    assert response.status_code == 200, response.content
    kept = Conversation.objects.get().messages
    assert len(kept) == 200 and kept[0]["content"].startswith("turn 51 ")
    assert kept[-1]["content"].startswith("the last words") and len(kept[-1]["content"]) == 8000
    too_big = toy.post(BASE + "v3/memories/add/", data=" " * (1024 * 1024 + 1), content_type="application/json")
    assert too_big.status_code == 413


def test_a_session_sent_again_or_continued_is_learned_once(family, toy):
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(6)]
    events = [post(toy, "v3/memories/add/", {"messages": turns[:n], "user_id": family.device_a.mac}).json()["event_id"]
              for n in (2, 4, 6)]  # pipecat: the whole conversation so far, on every turn
    again = post(toy, "v3/memories/add/", {"messages": turns, "user_id": family.device_a.mac}).json()
    assert again["event_id"] == events[-1] and len(set(events)) == 3
    assert [c.messages for c in Conversation.objects.order_by("pk")] == [turns[0:2], turns[2:4], turns[4:6]]


def test_messages_in_every_shape_memory_client_sends(family, toy):
    for messages in ("I like trains", {"role": "user", "content": "I like boats"},
                     [{"role": "user", "content": [{"type": "text", "text": "I like planes"}]}]):
        assert post(toy, "v3/memories/add/", {"messages": messages, "user_id": family.device_a.mac}).status_code == 200
    assert [c.messages[0]["content"] for c in Conversation.objects.order_by("pk")] == [
        "I like trains", "I like boats", "I like planes"]


# -- feedback and what is not served ------------------------------------------------------------

def test_feedback_is_recorded_for_parents_and_changes_no_rating(family, toy, seeded):
    body = {"memory_id": seeded["kites"].id, "feedback": "very_negative", "feedback_reason": "wrong grandpa"}
    response = post(toy, "v1/feedback/", body)
    assert response.status_code == 200
    assert response.json()["feedback"] == "VERY_NEGATIVE"
    assert not MemoryFeedback.objects.filter(memory_id=seeded["kites"].id).exists()
    event = AuditEvent.objects.get(action="toy.feedback")
    assert event.household == family.household_a and event.detail["rating"] == "VERY_NEGATIVE"
    assert "grandpa" not in json.dumps(event.detail)
    assert post(toy, "v1/feedback/", {**body, "feedback": "meh"}).status_code == 422
    assert post(toy, "v1/feedback/", {**body, "memory_id": seeded["mia"].id}).status_code == 200  # B's toy


@pytest.mark.parametrize("method, route, says", [
    ("put", "v1/memories/{id}/", "parents correct and delete"),
    ("delete", "v1/memories/{id}/", "parents correct and delete"),
    ("delete", "v1/memories/", "parents correct and delete"),
    ("get", "v1/memories/{id}/history/", "earlier versions"),
    ("put", "v1/batch/", "parents correct and delete"),
    ("get", "v1/entities/", "Memory spaces"),
    ("delete", "v2/entities/user/aa:bb:cc:dd:ee:ff/", "Memory spaces"),
    ("post", "v1/exports/", "Exports"),
    ("post", "v1/summary/", "Exports"),
    ("get", "api/v1/webhooks/projects/toys/", "webhooks"),
    ("patch", "api/v1/orgs/organizations/o/projects/p/", "Project settings"),
    ("post", "v2/profiles/jobs/", "profiles"),
    ("get", "v3/memories/search/", "does not serve GET"),
    ("get", "v9/anything/", "does not serve GET"),
])
def test_what_a_toy_must_not_do_is_403_naming_why(family, toy, gw, method, route, says):
    kites = gw.add(family.child_a.namespace, "Rahul loves flying kites", {"kind": "learned"})
    response = toy.generic(method.upper(), BASE + route.replace("{id}", kites.id), data=b"{}",
                           content_type="application/json")
    assert response.status_code == 403, response.content
    assert says in response.json()["detail"]
    assert gw.get(kites.id).text == "Rahul loves flying kites"
    assert AuditEvent.objects.filter(action="toy.refused", detail__method=method.upper()).exists()


def test_audit_entries_never_hold_memory_text(family, toy, seeded):
    post(toy, "v3/memories/search/", {"query": "kites", "filters": {"user_id": family.device_a.mac}})
    post(toy, "v3/memories/add/", {"messages": SESSION, "user_id": family.device_a.mac})
    toy.get(BASE + f"v1/memories/{seeded['kites'].id}/")
    trail = json.dumps(list(AuditEvent.objects.filter(action__startswith="toy.").values("action", "detail")))
    assert "toy.search" in trail and "toy.add" in trail and "toy.get" in trail
    assert "kites" not in trail and "volcano" not in trail
