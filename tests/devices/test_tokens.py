"""Device and fleet tokens: shown once, stored hashed, scoped, revocable; the admin page."""

import pytest
from django.urls import reverse

from devices import tokens
from devices.models import DeviceToken
from portal.errors import ApplicationError
from tests.memories.conftest_api import api_url, toy_client

pytestmark = pytest.mark.django_db


def config(raw, mac, header="bearer"):
    return toy_client(raw, header=header).get(api_url(mac, "config"))


def test_token_is_stored_hashed_and_shown_once(family):
    token, raw = tokens.token_create(actor=family.admin, name="Server A", device=family.device_a)
    stored = DeviceToken.objects.get(pk=token.pk)
    assert stored.token_hash == DeviceToken.hash(raw) != raw
    assert raw.startswith(stored.prefix) and len(stored.prefix) < len(raw) // 3
    assert raw not in str(list(DeviceToken.objects.values_list()))


def test_device_token_reaches_its_device_only(family):
    _, raw = tokens.token_create(actor=family.admin, name="Server A", device=family.device_a)
    assert config(raw, family.device_a.mac).status_code == 200
    assert config(raw, family.device_a.mac, header="x-device-token").status_code == 200
    other = config(raw, family.device_b.mac)
    assert other.status_code == 404 and other.json()["code"] == "unknown_device"  # never "forbidden"
    assert toy_client(raw).get(api_url(family.device_b.mac, "memory-context")).status_code == 404


def test_fleet_token_covers_every_device(family):
    _, raw = tokens.token_create(actor=family.admin, name="Fleet", fleet=True)
    assert config(raw, family.device_a.mac).status_code == 200
    assert config(raw, family.device_b.mac).status_code == 200


def test_revoked_token_is_401(family):
    token, raw = tokens.token_create(actor=family.admin, name="Fleet", fleet=True)
    tokens.token_revoke(actor=family.admin, token=token)
    response = config(raw, family.device_a.mac)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_last_used_is_recorded(family):
    token, raw = tokens.token_create(actor=family.admin, name="Fleet", fleet=True)
    assert token.last_used_at is None
    config(raw, family.device_a.mac)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_create_refuses_unclear_scope_or_no_name(family):
    with pytest.raises(ApplicationError):
        tokens.token_create(actor=family.admin, name="", fleet=True)
    with pytest.raises(ApplicationError):
        tokens.token_create(actor=family.admin, name="Both", fleet=True, device=family.device_a)
    with pytest.raises(ApplicationError):
        tokens.token_create(actor=family.admin, name="Neither")
    assert not DeviceToken.objects.exists()


# -- the admin page ------------------------------------------------------------------------

def test_admin_creates_a_device_token_and_sees_it_once(family, login):
    client = login(family.admin)
    response = client.post(reverse("agents:tokens"), {"name": "Server A", "scope": "device",
                                                      "mac": family.device_a.mac.upper()}, follow=True)
    assert response.redirect_chain == [(reverse("agents:tokens"), 302)]  # post/redirect/get
    token = DeviceToken.objects.get()
    raw = response.context["raw"]
    assert DeviceToken.hash(raw) == token.token_hash and raw in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert token.device == family.device_a and not token.is_fleet
    again = client.get(reverse("agents:tokens"))
    assert raw not in again.content.decode() and token.prefix in again.content.decode()
    assert config(raw, family.device_a.mac).status_code == 200


def test_admin_creates_a_fleet_token(family, login):
    client = login(family.admin)
    client.post(reverse("agents:tokens"), {"name": "Fleet", "scope": "fleet"})
    assert DeviceToken.objects.get().is_fleet


def test_admin_token_form_errors(family, login):
    client = login(family.admin)
    response = client.post(reverse("agents:tokens"), {"name": "X", "scope": "device", "mac": "nope"})
    assert response.status_code == 200 and response.context["form"].errors["mac"]
    response = client.post(reverse("agents:tokens"), {"name": "X", "scope": "device", "mac": "aa:bb:cc:00:00:99"})
    assert "No device" in response.context["form"].errors["mac"][0]
    assert not DeviceToken.objects.exists()


def test_admin_revokes_a_token(family, login):
    token, raw = tokens.token_create(actor=family.admin, name="Fleet", fleet=True)
    response = login(family.admin).post(reverse("agents:token_revoke", args=[token.pk]), {"confirmed": "yes"})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert config(raw, family.device_a.mac).status_code == 401


def test_token_pages_are_for_admins_only(family, client):
    token, _ = tokens.token_create(actor=family.admin, name="Fleet", fleet=True)
    urls = [("get", reverse("agents:tokens")), ("post", reverse("agents:token_revoke", args=[token.pk]))]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    for user in (family.parent_a, family.support):
        client.force_login(user)
        for method, url in urls:
            assert getattr(client, method)(url).status_code == 403
    assert DeviceToken.objects.get().revoked_at is None
    client.force_login(family.admin)
    assert client.post(reverse("agents:token_revoke", args=[99999])).status_code == 404
    assert client.put(reverse("agents:token_revoke", args=[token.pk])).status_code == 405
