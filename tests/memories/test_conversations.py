"""POST conversations: validation, idempotency, dropping, and extraction by a real worker
with the LLM stand-in (and with Mem0 down: the conversation is kept and done later)."""

import json

import pytest
from django.utils import timezone

from devices import services
from memories import conversations, tasks
from memories.models import Conversation, MemoryChange
from tests.conftest import unique_mac, wait_for
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url, toy_client

fake_llm, fleet, llm, toy = conftest_api.fake_llm, conftest_api.fleet, conftest_api.llm, conftest_api.toy

SESSION = [
    {"role": "system", "content": "You are Buddy."},
    {"role": "assistant", "content": "Hi Rahul! What did you do today?"},
    {"role": "user", "content": "I built a volcano with my friend Arjun"},
    {"role": "assistant", "content": "Wow! Did it erupt?"},
    {"role": "user", "content": "Yes and I love dinosaurs too"},
]
DOWN = "postgresql://postgres@/nowhere?host=/nonexistent&connect_timeout=1"


def post(client, mac, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(api_url(mac, "conversations"), data=data, content_type="application/json", headers=headers)


# -- accepting ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_accepted_at_once_without_system_messages(family, toy):
    response = post(toy, family.device_a.mac, {"messages": SESSION})
    assert response.status_code == 202, response.content
    body = response.json()
    conversation = Conversation.objects.get(pk=body["id"])
    assert body["state"] == "pending" == conversation.state
    assert [m["role"] for m in conversation.messages] == ["assistant", "user", "assistant", "user"]
    assert conversation.device == family.device_a


@pytest.mark.django_db
def test_same_idempotency_key_creates_nothing_twice(family, toy):
    first = post(toy, family.device_a.mac, {"messages": SESSION, "idempotency_key": "session-1"})
    again = post(toy, family.device_a.mac, {"messages": SESSION, "idempotency_key": "session-1"})
    by_header = post(toy, family.device_a.mac, {"messages": SESSION}, **{"Idempotency-Key": "session-1"})
    assert first.status_code == 202 and again.status_code == 200 and by_header.status_code == 200
    assert first.json()["id"] == again.json()["id"] == by_header.json()["id"]
    assert Conversation.objects.filter(device=family.device_a).count() == 1
    # another device may use the same key for its own session
    assert post(toy, family.device_b.mac, {"messages": SESSION, "idempotency_key": "session-1"}).status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}] * 201}, "messages"),
    ({"messages": [{"role": "narrator", "content": "hi"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": "x" * 8001}]}, "messages.0.content"),
    ({"messages": [{"role": "user"}]}, "messages.0.content"),
    ({"messages": "hello"}, "messages"),
    ({}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}], "idempotency_key": "k" * 129}, "idempotency_key"),
])
def test_invalid_bodies_are_422_naming_the_field(family, toy, body, field):
    response = post(toy, family.device_a.mac, body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert response.json()["errors"]
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_malformed_json_is_400(family, toy):
    response = post(toy, family.device_a.mac, '{"messages": [')
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


@pytest.mark.django_db
def test_body_over_256_kb_is_413_before_parsing(family, toy):
    big = {"messages": [{"role": "user", "content": "x" * 8000}] * 40}  # valid per message, 320 KB in all
    response = post(toy, family.device_a.mac, big)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_unknown_malformed_and_foreign_devices(family, fleet):
    from devices import tokens

    _, raw = tokens.token_create(actor=family.admin, name="A only", device=family.device_a)
    own = toy_client(raw)
    assert post(own, unique_mac(), {"messages": SESSION}).json()["code"] == "unknown_device"
    assert post(own, "12345", {"messages": SESSION}).status_code == 422
    foreign = post(own, family.device_b.mac, {"messages": SESSION})
    assert foreign.status_code == 404 and foreign.json()["code"] == "unknown_device"
    assert post(toy_client(None), family.device_a.mac, {"messages": SESSION}).status_code == 401
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_dropped_and_counted_when_paused_or_off(family, toy):
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
    services.agent_save(actor=family.admin, agent=family.agent, memory_enabled=False)
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=False)
    off = post(toy, family.device_a.mac, {"messages": SESSION}).json()
    services.agent_save(actor=family.admin, agent=family.agent, memory_enabled=True)
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
    paused = post(toy, family.device_a.mac, {"messages": SESSION}).json()
    assert (off["state"], off["drop_reason"]) == ("dropped", "memory_off")
    assert (paused["state"], paused["drop_reason"]) == ("dropped", "paused")
    dropped = Conversation.objects.filter(device=family.device_a, state="dropped")
    assert dropped.count() == 2
    assert all(c.messages == [] for c in dropped)  # nothing of the child's words is kept


@pytest.mark.django_db
def test_only_system_messages_is_dropped_as_empty(family, toy):
    body = post(toy, family.device_a.mac, {"messages": [SESSION[0]]}).json()
    assert (body["state"], body["drop_reason"]) == ("dropped", "empty")


@pytest.mark.django_db
def test_without_an_llm_the_conversation_is_kept_and_says_why(family, toy, settings):
    settings.LLM_BASE_URL = ""
    pk = post(toy, family.device_a.mac, {"messages": SESSION}).json()["id"]
    conversations.conversation_extract(pk)
    conversation = Conversation.objects.get(pk=pk)
    assert conversation.state == "failed"
    assert "LLM_BASE_URL" in conversation.last_error
    assert len(conversation.messages) == 4  # kept for when an LLM is configured


@pytest.mark.django_db
def test_extraction_in_process_with_the_llm_stand_in(family, toy, llm, gw):
    pk = post(toy, family.device_a.mac, {"messages": SESSION}).json()["id"]
    conversations.conversation_extract(pk)
    conversation = Conversation.objects.get(pk=pk)
    assert (conversation.state, conversation.memories_added, conversation.messages) == ("done", 2, [])
    # Neither our row nor Mem0's messages table keeps the child's words after extraction.
    assert gw.traces(family.device_a.namespace, marker="volcano")["marker_messages"] == 0
    texts = {r.text: r for r in gw.list([family.device_a.namespace]).items}
    assert "User says: Yes and I love dinosaurs too" in texts
    record = texts["User says: I built a volcano with my friend Arjun"]
    assert record.metadata["kind"] == "learned" and record.metadata["conversation_id"] == pk
    assert record.category  # categorised with the agent's (default) categories
    assert family.agent.memory_prompt in llm.user_prompts()[-1]
    changes = MemoryChange.objects.filter(namespace=family.device_a.namespace, actor_role="toy")
    assert changes.count() == 2
    conversations.conversation_extract(pk)  # a rerun does nothing
    assert len(llm.requests) == 1


# -- with a real worker ----------------------------------------------------------------------

@pytest.mark.worker
def test_worker_extracts_with_the_agent_memory_prompt_once(family, fleet, fake_llm, start_worker, gw):
    start_worker(LLM_BASE_URL=fake_llm.base_url)
    toy = toy_client(fleet[1])
    body = {"messages": SESSION, "idempotency_key": "worker-1"}
    pk = post(toy, family.device_a.mac, body).json()["id"]
    wait_for(lambda: Conversation.objects.get(pk=pk).state == "done", timeout=120)
    assert post(toy, family.device_a.mac, body).json() == {"id": pk, "state": "done", "drop_reason": ""}
    conversation = Conversation.objects.get(pk=pk)
    assert conversation.messages == [] and conversation.memories_added == 2
    assert len(fake_llm.requests) == 1
    prompt = fake_llm.user_prompts()[0]
    assert "## Custom Instructions\nKeep interests and friends' first names." in prompt
    assert "user: I built a volcano with my friend Arjun" in prompt
    texts = [r.text for r in gw.list([family.device_a.namespace]).items]
    assert "User says: I built a volcano with my friend Arjun" in texts
    served = toy.get(api_url(family.device_a.mac, "memory-context") + "?query=volcano").json()
    assert "User says: I built a volcano with my friend Arjun" in served["block"]


@pytest.mark.worker
def test_mem0_down_keeps_the_conversation_and_completes_it_later(
        family, fleet, fake_llm, start_worker, gw):
    down = start_worker(LLM_BASE_URL=fake_llm.base_url, MEM0_DATABASE_URL=DOWN)
    toy = toy_client(fleet[1])
    response = post(toy, family.device_a.mac, {"messages": SESSION})
    assert response.status_code == 202
    pk = response.json()["id"]
    wait_for(lambda: Conversation.objects.get(pk=pk).state == "failed", timeout=120)
    failed = Conversation.objects.get(pk=pk)
    assert "Mem0 unavailable" in failed.last_error and len(failed.messages) == 4
    down.stop()
    # Mem0 is back: a healthy worker, and the sweep re-enqueues what was left.
    start_worker(LLM_BASE_URL=fake_llm.base_url)
    Conversation.objects.filter(pk=pk).update(next_attempt_at=timezone.now())  # its backoff ran out
    assert tasks.outbox_sweep() >= 1
    wait_for(lambda: Conversation.objects.get(pk=pk).state == "done", timeout=120)
    done = Conversation.objects.get(pk=pk)
    assert done.messages == [] and done.memories_added == 2
    assert len(fake_llm.requests) == 1  # Mem0 was down before the LLM was asked
