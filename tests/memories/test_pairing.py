"""Pairing a toy by a 6-digit code (asked by the toy server, typed by a parent): expired,
reused, guessed (rate limit) and foreign-household codes; raw MACs for staff only; the
toys page (rename, move, remove; the last toy asks keep or erase)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from devices import services, tokens, toys
from devices.models import Device, PairingCode
from memories import erasure, gateway
from memories import services as memory_services
from tests.conftest import unique_mac
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url, toy_client

fleet, toy = conftest_api.fleet, conftest_api.toy
pytestmark = pytest.mark.django_db


def ask_code(toy, mac, **body):
    return toy.post(api_url(mac, "pairing-code"), body, content_type="application/json")


def pair(client, code, child=None, name="Kitchen robot"):
    return client.post("/devices/add/", {"code": code, "child": child.pk if child else "", "name": name})


def test_toy_server_asks_a_parent_types_the_toy_is_theirs(family, toy, login):
    mac = unique_mac()
    response = ask_code(toy, mac, agent_id=family.agent.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"\d{6}", body["code"]) and body["expires_in"] == 600
    assert body["code"] not in str(list(PairingCode.objects.values()))  # only an HMAC is kept
    response = pair(login(family.parent_a), body["code"], family.child_a)
    assert response.status_code == 302 and response.url == "/toys/"
    device = Device.objects.get(mac=mac)
    assert (device.household, device.child, device.agent, device.name) == (
        family.household_a, family.child_a, family.agent, "Kitchen robot")
    assert toy.get(api_url(mac, "config")).json()["mem0_user_id"] == family.child_a.namespace
    assert ask_code(toy, mac).json()["code"] == "device_registered"


def test_expired_code_is_refused(family, toy, login):
    mac = unique_mac()
    code = ask_code(toy, mac).json()["code"]
    PairingCode.objects.filter(mac=mac).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = pair(login(family.parent_a), code, family.child_a)
    assert response.status_code == 400 and toys.INVALID_CODE in response.content.decode()
    assert not Device.objects.filter(mac=mac).exists()


def test_a_code_works_once_and_a_new_one_replaces_the_old(family, toy, login):
    first_mac, second_mac = unique_mac(), unique_mac()
    old = ask_code(toy, first_mac).json()["code"]
    new = ask_code(toy, first_mac).json()["code"]
    parent = login(family.parent_a)
    if old != new:
        assert pair(parent, old).status_code == 400  # replaced
    assert pair(parent, new).status_code == 302
    code = ask_code(toy, second_mac).json()["code"]
    assert pair(parent, code).status_code == 302
    again = pair(login(family.parent_b), code)  # reused, by another household
    assert again.status_code == 400 and toys.INVALID_CODE in again.content.decode()
    assert Device.objects.get(mac=second_mac).household == family.household_a


def test_guessing_is_limited_per_parent_then_even_a_right_code_waits(family, toy, login, settings):
    settings.PAIRING_GUESSES_PER_USER = 5
    parent = login(family.parent_a)
    code = ask_code(toy, unique_mac()).json()["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert pair(parent, wrong).status_code == 400
    blocked = pair(parent, code)
    assert blocked.status_code == 429 and toys.GUESSES_EXCEEDED in blocked.content.decode()
    # the household's other parent still may, until the household's own limit
    assert pair(login(family.parent_a2), code).status_code == 302


def test_guessing_is_limited_per_household(family, toy, login, settings):
    settings.PAIRING_GUESSES_PER_USER, settings.PAIRING_GUESSES_PER_HOUSEHOLD = 5, 6
    for parent, tries in ((family.parent_a, 5), (family.parent_a2, 1)):
        client = login(parent)
        for _ in range(tries):
            assert pair(client, "000000").status_code in (400, 429)
    assert pair(login(family.parent_a2), "000000").status_code == 429


def test_a_mac_of_another_household_is_never_revealed(family, toy, login):
    mac = unique_mac()
    code = ask_code(toy, mac).json()["code"]
    # meanwhile support registers the toy to household B by its MAC
    services.device_register(actor=family.support, household=family.household_b, mac=mac, child=family.child_b)
    response = pair(login(family.parent_a), code, family.child_a)
    page = response.content.decode()
    assert response.status_code == 400 and toys.INVALID_CODE in page
    assert mac not in page and "Family B" not in page and "Mia" not in page
    assert Device.objects.get(mac=mac).household == family.household_b


def test_asking_is_limited_per_mac_and_needs_a_fleet_token(family, toy, settings):
    settings.PAIRING_CODES_PER_MAC_PER_HOUR = 3
    mac = unique_mac()
    assert [ask_code(toy, mac).status_code for _ in range(4)] == [201, 201, 201, 429]
    _, raw = tokens.token_create(actor=family.admin, name="one toy", device=family.device_a)
    refused = ask_code(toy_client(raw), unique_mac())
    assert refused.status_code == 403 and refused.json()["code"] == "fleet_token_required"
    assert ask_code(toy_client(None), unique_mac()).status_code == 401


def test_typing_a_raw_mac_is_for_staff_only(family, login):
    mac = unique_mac()
    parent = login(family.parent_a)
    assert parent.get("/staff/toys/add/").status_code == 403
    response = parent.post("/devices/add/", {"mac": mac, "name": "x"})
    assert response.status_code == 400 and not Device.objects.filter(mac=mac).exists()
    support = login(family.support)
    response = support.post("/staff/toys/add/", {"household": family.household_a.pk, "mac": mac.upper(),
                                                  "name": "Robot S", "child": family.child_a.pk})
    assert response.status_code == 302
    assert Device.objects.get(mac=mac).household == family.household_a


def test_toys_page_lists_renames_and_moves(family, login):
    parent = login(family.parent_a)
    page = parent.get("/toys/").content.decode()
    assert "Robot A" in page and "Robot B" not in page and family.agent.name in page and "On" in page
    assert parent.post(f"/toys/{family.device_a.pk}/rename/", {"name": "Sparky"}).status_code == 302
    family.device_a.refresh_from_db()
    assert family.device_a.name == "Sparky"
    assert login(family.parent_b).post(f"/toys/{family.device_a.pk}/rename/", {"name": "x"}).status_code == 404


def test_removing_a_toy_that_is_not_the_last_keeps_everything(family, login, gw):
    second = services.device_register(actor=family.support, household=family.household_a, mac=unique_mac(),
                                      child=family.child_a)
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    parent = login(family.parent_a)
    page = parent.get(f"/toys/{second.pk}/remove/").content.decode()
    assert "last toy" not in page
    assert parent.post(f"/toys/{second.pk}/remove/", {}).status_code == 302
    assert not Device.objects.filter(pk=second.pk).exists()
    assert gw.count([family.child_a.namespace], exclude_kinds=["child_profile"]) == 1


def test_removing_the_last_toy_keep(family, login, gw):
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    parent = login(family.parent_a)
    url = f"/toys/{family.device_a.pk}/remove/"
    assert "last toy" in parent.get(url).content.decode()
    assert parent.post(url, {}).status_code == 400  # keep or erase must be chosen
    assert parent.post(url, {"choice": "keep"}).status_code == 302
    assert gw.count([family.child_a.namespace], exclude_kinds=["child_profile"]) == 1


def test_removing_the_last_toy_erase_is_confirmed_like_a_delete_and_gets_a_receipt(family, login, gw):
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    parent = login(family.parent_a)
    url = f"/toys/{family.device_a.pk}/remove/"
    assert parent.post(url, {"choice": "erase", "confirmation": "rahul"}).status_code == 400
    assert Device.objects.filter(pk=family.device_a.pk).exists()
    response = parent.post(url, {"choice": "erase", "confirmation": "Rahul"})
    assert response.status_code == 302 and "/erasures/ER-" in response.url
    reference = response.url.rstrip("/").rsplit("/", 1)[-1]
    done = erasure.erasure_run(erasure.erasure_for(family.parent_a, reference).pk)
    assert done.state == "done" and done.origin == "toy_removed"
    assert gateway.get().count([family.child_a.namespace], exclude_kinds=["child_profile"]) == 0
    assert "Receipt" in parent.get(response.url).content.decode()
    assert not Device.objects.filter(pk=family.device_a.pk).exists()
