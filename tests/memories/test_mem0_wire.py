"""Toy servers' own Mem0 clients against the portal: mem0ai 1.0.0's requests replayed byte for
byte (xiaozhi pins it), the real mem0ai 2.2 ``MemoryClient`` against a live portal under
gunicorn, and xiaozhi's memory provider (examples/xiaozhi) end to end with a real worker."""

import asyncio
import concurrent.futures
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from django.conf import settings
from django.test import Client

from devices import services, tokens
from memories import conversations
from memories import services as memory_services
from memories.models import Conversation
from portal.models import AuditEvent
from portal.processes import database_url
from tests.conftest import wait_for
from tests.memories import conftest_api


def run_async(coroutine):
    """asyncio.run in a thread of its own: the session's browser tests leave an event loop
    running in this thread (Playwright's sync API), where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

fake_llm, fleet, llm = conftest_api.fake_llm, conftest_api.fleet, conftest_api.llm

FIXTURES = Path(__file__).with_name("fixtures")
RECORDED_MAC = "a0:b1:c2:d3:e4:f5"
RECORDED_ID = "00000000-0000-4000-8000-00000000f1f1"
STAMPED_LINE = re.compile(r"- \[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] .+")


@contextmanager
def live_portal(queue: str = "mem0-wire-unused"):
    """The portal under gunicorn on 127.0.0.1, on this session's test database; tasks it
    enqueues go to ``queue``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY,
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": queue, "DEBUG": "true",
           "ALLOWED_HOSTS": "127.0.0.1"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "-t", "120"],
                               cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, timeout=60)
        yield base
    finally:
        process.terminate()
        process.wait(20)


# -- mem0ai 1.0.0, replayed ----------------------------------------------------------------------

REFUSED_1_0 = {"update", "delete", "delete_all", "history", "users", "batch_update", "create_memory_export"}


@pytest.mark.django_db
def test_mem0ai_1_0_0_requests_replayed_byte_for_byte(family, fleet, gw):
    device = services.device_register(actor=family.parent_a, household=family.household_a, mac=RECORDED_MAC,
                                      name="xiaozhi", child=family.child_a, agent=family.agent)
    volcano = gw.add(family.child_a.namespace, "Rahul built a volcano with Arjun", {"kind": "learned"})
    dinosaurs = gw.add(family.child_a.namespace, "Rahul loves dinosaurs", {"kind": "learned"})
    client, answers = Client(), {}
    recorded = json.loads((FIXTURES / "mem0ai_1_0_0.json").read_text(encoding="utf-8"))
    for request in recorded:
        body = request["body"].replace(RECORDED_ID, volcano.id).encode("utf-8")
        assert len(body) == request["length"]  # exactly the bytes mem0ai 1.0.0 sent
        headers = {k: v.replace("mpt_TOKEN", fleet[1]) for k, v in request["headers"].items()}
        path = "/api/v1/mem0" + request["path"].replace(RECORDED_ID, volcano.id)
        query = request["query"].replace(RECORDED_ID, volcano.id)
        response = client.generic(request["method"], path + (f"?{query}" if query else ""), data=body,
                                  content_type=headers.pop("content-type", ""), headers=headers)
        answers[request["name"]] = response
        expected = 403 if request["name"] in REFUSED_1_0 else 200
        assert response.status_code == expected, (request["name"], response.content)
        assert response["Content-Type"] == "application/json; charset=utf-8"
    ping = answers["ping"].json()
    assert ping["status"] == "ok" and (ping["org_id"], ping["project_id"]) == ("memory-portal", "toys")
    found = answers["search, as xiaozhi's provider"].json()["results"]
    assert found[0]["memory"] == volcano.text and found[0]["user_id"] == RECORDED_MAC
    assert {r["id"] for r in answers["search with limit, as xiaozhi's persona"].json()["results"]} == {
        volcano.id, dinosaurs.id}
    assert answers["search with filters"].json()["results"][0]["id"] == dinosaurs.id
    [queued] = answers["add, as xiaozhi's provider"].json()["results"]
    assert queued["status"] == "PENDING" and queued["event_id"]
    conversation = Conversation.objects.get(device=device)
    assert conversation.messages[0] == {"role": "assistant", "content": "你好！今天做了什么？"}
    assert answers["get_all paged"].json()["count"] == 2
    assert [r["id"] for r in answers["get_all"].json()["results"]] == [dinosaurs.id, volcano.id]
    assert answers["get"].json()["memory"] == volcano.text
    assert answers["feedback"].json() == {"memory_id": volcano.id, "feedback": "POSITIVE", "feedback_reason": "right"}
    assert all(answers[name].json()["detail"] for name in REFUSED_1_0)
    assert gw.get(volcano.id).text == volcano.text
    assert AuditEvent.objects.filter(action__startswith="toy.").count() == len(recorded)


# -- mem0ai 2.2 MemoryClient, live -----------------------------------------------------------------

def test_memory_client_against_a_live_portal(family, fleet, gw, llm, transactional_db):
    from mem0 import MemoryClient
    from mem0.exceptions import MemoryError as Mem0Error

    ns, mac = family.child_a.namespace, family.device_a.mac
    kites = gw.add(ns, "Rahul loves flying kites with grandpa", {"kind": "learned"})
    secret = gw.add(ns, "Rahul's secret hiding place is under the stairs", {"kind": "learned"})
    memory_services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=secret.id,
                                rating="VERY_NEGATIVE")
    _, own_raw = tokens.token_create(actor=family.admin, name="Robot A's server", device=family.device_a)
    with live_portal() as base:
        host = f"{base}/api/v1/mem0"
        client = MemoryClient(api_key=fleet[1], host=host)  # pings
        assert (client.org_id, client.project_id) == ("memory-portal", "toys")

        found = client.search("kites secret hiding place", filters={"user_id": mac}, top_k=10, threshold=0.0)
        ids = [r["id"] for r in found["results"]]
        assert kites.id in ids and secret.id not in ids
        assert {r["user_id"] for r in found["results"]} == {mac}

        queued = client.add([{"role": "user", "content": "I flew my kite at the beach"},
                             {"role": "assistant", "content": "That sounds fun!"}], user_id=mac,
                            metadata={"child_name": "Rahul"})
        assert queued["status"] == "PENDING"
        conversation = Conversation.objects.get(device=family.device_a)
        conversations.conversation_extract(conversation.pk)  # what the worker does with it
        event = client.client.get(f"/v1/event/{queued['event_id']}/").json()
        assert event["status"] == "SUCCEEDED" and len(event["results"]) == 1

        listed = client.get_all(filters={"user_id": mac}, page=1, page_size=50)
        texts = [r["memory"] for r in listed["results"]]
        assert texts[0] == "User says: I flew my kite at the beach" and kites.text in texts
        assert secret.text not in texts and listed["count"] == len(texts)
        assert client.get(kites.id)["memory"] == kites.text
        assert client.feedback(kites.id, "POSITIVE")["feedback"] == "POSITIVE"

        for refused in (lambda: client.update(kites.id, text="Rahul hates kites"),
                        lambda: client.delete(kites.id), lambda: client.delete_all(filters={"user_id": mac}),
                        lambda: client.users()):
            with pytest.raises(Mem0Error) as error:
                refused()
            assert "parents" in error.value.message
        assert gw.get(kites.id).text == kites.text

        own = MemoryClient(api_key=own_raw, host=host)
        with pytest.raises(Mem0Error):  # another household's toy: not found for this token
            own.search("cat", filters={"user_id": family.device_b.mac})

        services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
        assert client.search("kites", filters={"user_id": mac})["results"] == []
        assert "paused" in client.add("I like trains", user_id=mac)["message"]

        tokens.token_revoke(actor=family.admin, token=tokens.token_lookup(own_raw))
        with pytest.raises(ValueError):
            MemoryClient(api_key=own_raw, host=host)


# -- xiaozhi-esp32-server's provider (examples/xiaozhi), end to end -------------------------------

XIAOZHI_BASE = '''
class _Logger:
    def bind(self, **tags):
        return self

    def info(self, *args):
        pass

    error = debug = warning = info


logger = _Logger()


class MemoryProviderBase:
    def __init__(self, config):
        self.config = config
        self.role_id = None

    def init_memory(self, role_id, llm, **kwargs):
        self.role_id = role_id
        self.llm = llm
'''


@pytest.fixture
def xiaozhi_provider(tmp_path, monkeypatch):
    """examples/xiaozhi/mem0_portal as xiaozhi loads it: core.providers.memory.<type>.<type>,
    next to a base module with the interface of xiaozhi's ``MemoryProviderBase``."""
    memory = tmp_path / "core" / "providers" / "memory"
    shutil.copytree(settings.BASE_DIR / "examples" / "xiaozhi" / "mem0_portal", memory / "mem0_portal")
    for package in (tmp_path / "core", tmp_path / "core" / "providers", memory, memory / "mem0_portal"):
        (package / "__init__.py").touch()
    (memory / "base.py").write_text(XIAOZHI_BASE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("core.providers.memory.mem0_portal.mem0_portal")
    for name in [n for n in sys.modules if n == "core" or n.startswith("core.")]:
        del sys.modules[name]


@pytest.mark.worker
def test_xiaozhi_provider_end_to_end(family, fleet, gw, fake_llm, start_worker, xiaozhi_provider):
    from portal.celery import app

    start_worker(LLM_BASE_URL=fake_llm.base_url)
    queue = app.conf.task_default_queue  # the started worker's
    mac = family.device_a.mac
    secret = gw.add(family.child_a.namespace, "Rahul's volcano secret is under the stairs", {"kind": "learned"})
    memory_services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=secret.id,
                                rating="VERY_NEGATIVE")
    dialogue = [SimpleNamespace(role=role, content=content) for role, content in (
        ("system", "You are Buddy."), ("assistant", "Hi Rahul! What did you do today?"),
        ("user", "I built a volcano with my friend Arjun"), ("assistant", "Wow! Did it erupt?"),
        ("user", "Yes and I love dinosaurs too"))]
    with live_portal(queue) as base:
        config = {"type": "mem0_portal", "host": f"{base}/api/v1/mem0", "api_key": fleet[1]}

        def session():  # xiaozhi: one provider per connection, role_id = the device-id (the MAC)
            provider = xiaozhi_provider.MemoryProvider(config)
            provider.init_memory(role_id=mac, llm=None)
            assert provider.use_mem0
            return provider

        first = session()
        assert "volcano" not in run_async(first.query_memory("what did I build?"))  # not the 🚫 one
        run_async(first.save_memory(dialogue))
        wait_for(lambda: Conversation.objects.filter(device=family.device_a, state="done").exists(), timeout=120)

        injected = run_async(session().query_memory("volcano"))
        lines = injected.splitlines()
        assert all(STAMPED_LINE.fullmatch(line) for line in lines), injected
        assert any(line.endswith("] User says: I built a volcano with my friend Arjun") for line in lines)
        assert "] User says: Yes and I love dinosaurs too" in injected
        assert "under the stairs" not in injected
        stamps = [line[3:22] for line in lines]
        assert stamps == sorted(stamps, reverse=True)  # newest first, as xiaozhi orders them

        services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
        paused = session()
        assert run_async(paused.query_memory("volcano")) == ""
        run_async(paused.save_memory([*dialogue[:2], SimpleNamespace(role="user", content="I have a new kite")]))
        assert Conversation.objects.filter(device=family.device_a, state="dropped", drop_reason="paused").exists()
