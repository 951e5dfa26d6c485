"""The toy servers' reads: GET config and GET memory-context, with good and bad input."""

import re

import pytest
from django.utils import timezone

from devices import services
from memories import gateway as gateway_module
from memories import services as memory_services
from memories.gateway import LocalGateway
from memories.models import MemoryUsage
from tests.conftest import unique_mac
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url, toy_client

fleet, toy = conftest_api.fleet, conftest_api.toy

pytestmark = pytest.mark.django_db


# -- config ---------------------------------------------------------------------------------

def test_config_gives_prompt_with_profile_settings_and_namespace(family, toy):
    response = toy.get(api_url(family.device_a.mac, "config"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["system_prompt"].startswith("You are Buddy.\nChild Profile - Name: Rahul")
    assert "{{child_profile}}" not in body["system_prompt"]
    assert body["mem0_user_id"] == family.device_a.namespace == body["memory"]["user_id"]
    assert body["memory"] == {"enabled": True, "agent_enabled": True, "paused": False,
                              "user_id": family.child_a.namespace, "reason": "", "learning": True,
                              "learning_reason": ""}
    assert body["child"]["name"] == "Rahul" and body["child"]["interests"] == ["games", "sports", "science"]
    assert body["agent"] == {"id": family.agent.pk, "name": family.agent.name}
    family.device_a.refresh_from_db()
    assert family.device_a.last_seen_at is not None


def test_config_accepts_any_mac_spelling(family, toy):
    spelled = family.device_a.mac.replace(":", "-").upper()
    assert toy.get(api_url(spelled, "config")).json()["mem0_user_id"] == family.child_a.namespace


def test_config_without_placeholder_keeps_the_prompt(family, toy):
    services.agent_save(actor=family.admin, agent=family.agent, system_prompt="You are Buddy, a robot.")
    assert toy.get(api_url(family.device_a.mac, "config")).json()["system_prompt"] == "You are Buddy, a robot."


def test_config_unknown_device_is_404_with_code(toy):
    response = toy.get(api_url(unique_mac(), "config"))
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_device"


def test_config_unbound_device_is_404_with_code(family, toy):
    device = services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac())
    response = toy.get(api_url(device.mac, "config"))
    assert response.status_code == 404
    assert response.json()["code"] == "device_unbound"


def test_config_malformed_mac_is_422_naming_the_field(toy):
    response = toy.get(api_url("not-a-mac", "config"))
    assert response.status_code == 422
    assert response.json()["field"] == "mac" and response.json()["code"] == "invalid_mac"


def test_config_needs_a_token(family):
    for client in (toy_client(None), toy_client("mpt_wrong"), toy_client("")):
        response = client.get(api_url(family.device_a.mac, "config"))
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


def test_config_wrong_method(family, toy):
    response = toy.post(api_url(family.device_a.mac, "config"))
    assert response.status_code == 405


def test_a_parents_session_is_no_api_credential(family, client):
    client.force_login(family.parent_a)
    assert client.get(api_url(family.device_a.mac, "config")).status_code == 401


# -- memory context --------------------------------------------------------------------------

@pytest.fixture
def seeded(family, gw):
    """Learned memories (oldest first), one added by a parent, one rated 🚫 by a parent."""
    ns = family.device_a.namespace
    learned = [gw.add(ns, text, {"kind": "learned"}) for text in (
        "Rahul loves dinosaurs, especially the T-Rex",
        "Rahul's best friend is Arjun",
        "Rahul goes to bed at 8 pm",
    )]
    blocked = gw.add(ns, "Rahul's secret hiding place is under the stairs", {"kind": "learned"})
    memory_services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=blocked.id,
                                rating="VERY_NEGATIVE")
    added = memory_services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a,
                                       text="Rahul is learning to swim")
    return {"learned": learned, "blocked": blocked, "added": added}


def test_context_newest_first_without_blocked_or_profile(family, toy, seeded):
    response = toy.get(api_url(family.device_a.mac, "memory-context"))
    assert response.status_code == 200, response.content
    body = response.json()
    texts = [i["text"] for i in body["items"]]
    assert texts == ["Rahul is learning to swim", "Rahul goes to bed at 8 pm", "Rahul's best friend is Arjun",
                     "Rahul loves dinosaurs, especially the T-Rex"]
    assert seeded["blocked"].text not in body["block"]
    assert body["enabled"] is True and body["reason"] == ""
    lines = body["block"].splitlines()
    assert len(lines) == 4
    assert all(re.fullmatch(r"- \[\d{4}-\d{2}-\d{2} \d{2}:\d{2}\] .+", line) for line in lines)
    assert lines[0].endswith("] Rahul is learning to swim")


def test_context_limit(family, toy, seeded):
    body = toy.get(api_url(family.device_a.mac, "memory-context") + "?limit=2").json()
    assert [i["text"] for i in body["items"]] == ["Rahul is learning to swim", "Rahul goes to bed at 8 pm"]


@pytest.mark.parametrize("limit", ["0", "51", "many"])
def test_context_bad_limit_is_422(family, toy, limit):
    response = toy.get(api_url(family.device_a.mac, "memory-context") + f"?limit={limit}")
    assert response.status_code == 422
    assert response.json()["field"] == "limit"


def test_context_with_query_finds_the_closest_then_orders_newest_first(family, toy, seeded):
    body = toy.get(api_url(family.device_a.mac, "memory-context") + "?query=dinosaur+T-Rex&limit=2").json()
    texts = [i["text"] for i in body["items"]]
    assert "Rahul loves dinosaurs, especially the T-Rex" in texts and len(texts) == 2
    created = [i["created_at"] for i in body["items"]]
    assert created == sorted(created, reverse=True)
    assert all(i["score"] is not None for i in body["items"])


def test_context_never_serves_a_blocked_memory_even_when_asked_for_it(family, toy, seeded):
    body = toy.get(api_url(family.device_a.mac, "memory-context") + "?query=secret+hiding+place&limit=50").json()
    assert seeded["blocked"].id not in [i["id"] for i in body["items"]]


def test_context_counts_each_served_memory_in_a_fixed_number_of_queries(
        family, toy, seeded, django_assert_max_num_queries):
    url = api_url(family.device_a.mac, "memory-context")
    toy.get(url)  # the token's and device's "last used" are written on this first call
    with django_assert_max_num_queries(4):  # token, device, one usage upsert (+ a spare)
        served = toy.get(url).json()["items"]
    usage = {u.memory_id: u for u in MemoryUsage.objects.filter(device=family.device_a)}
    assert set(usage) == {i["id"] for i in served}
    assert all(u.count == 2 and u.last_used_at <= timezone.now() for u in usage.values())
    assert seeded["blocked"].id not in usage


def test_context_is_empty_when_the_child_paused_memory(family, toy, seeded):
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=True)
    body = toy.get(api_url(family.device_a.mac, "memory-context")).json()
    assert body == {"enabled": False, "reason": "paused", "items": [], "block": ""}
    assert not MemoryUsage.objects.filter(device=family.device_a).exists()
    assert toy.get(api_url(family.device_a.mac, "config")).json()["memory"]["enabled"] is False


def test_context_is_empty_when_the_agent_has_memory_off(family, toy, seeded):
    services.agent_save(actor=family.admin, agent=family.agent, memory_enabled=False)
    body = toy.get(api_url(family.device_a.mac, "memory-context") + "?query=dinosaurs").json()
    assert (body["enabled"], body["reason"], body["items"]) == (False, "memory_off", [])


def test_context_of_an_empty_namespace(family, toy):
    body = toy.get(api_url(family.device_b.mac, "memory-context")).json()
    assert (body["enabled"], body["reason"], body["items"], body["block"]) == (True, "empty", [], "")


def test_context_unknown_and_malformed_mac(toy):
    assert toy.get(api_url(unique_mac(), "memory-context")).json()["code"] == "unknown_device"
    assert toy.get(api_url("zz:zz", "memory-context")).status_code == 422


def test_context_503_with_retry_after_when_mem0_is_down(family, toy, gw):
    down = LocalGateway(dsn="postgresql://postgres@/nowhere?host=/nonexistent")
    gateway_module.reset_for_tests(down)
    try:
        response = toy.get(api_url(family.device_a.mac, "memory-context") + "?query=dinosaurs")
    finally:
        gateway_module.reset_for_tests(gw)
        down.close()
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "mem0_unavailable"


# -- the API's description -----------------------------------------------------------------

def test_openapi_and_docs_without_a_cdn(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/devices/{mac}/config", "/api/v1/devices/{mac}/memory-context",
            "/api/v1/devices/{mac}/conversations"} <= set(schema["paths"])
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui-bundle.js" in html and "cdn" not in html.lower() and "https://" not in html


# -- under gunicorn, as the toy servers (and the benchmark) call it --------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_api_under_gunicorn_with_a_fleet_token(family, fleet, gw, transactional_db):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import httpx
    from django.conf import settings

    from portal.processes import database_url
    from tests.conftest import wait_for

    gw.add(family.device_a.namespace, "Rahul loves kites", {"kind": "learned"})
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY,
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": f"gunicorn-{port}",
           "DEBUG": "true", "ALLOWED_HOSTS": "127.0.0.1"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "-t", "120"],
                               cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {fleet[1]}"}
    try:
        def up():
            try:
                return httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=60)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            assert http.get(f"/api/v1/devices/{family.device_a.mac}/config").json()["mem0_user_id"] == \
                family.child_a.namespace
            context = http.get(f"/api/v1/devices/{family.device_a.mac}/memory-context", params={"query": "kites"})
            assert context.status_code == 200 and "Rahul loves kites" in context.json()["block"]
            posted = http.post(f"/api/v1/devices/{family.device_a.mac}/conversations",
                               json={"messages": [{"role": "user", "content": "I flew my kite"}]})
            assert posted.status_code == 202
            assert http.post(f"/api/v1/devices/{family.device_a.mac}/conversations",
                             content=b"x" * (300 * 1024)).status_code == 413
            assert httpx.get(f"{base}/api/v1/devices/{family.device_a.mac}/config").status_code == 401
    finally:
        process.terminate()
        process.wait(20)
