"""Actions that cannot be undone ask first and say what will happen (without JavaScript: a
confirmation page, or a box to tick); a POST that was not confirmed changes nothing. A new
token is shown after a redirect, so reloading the page never creates a second one."""

import pytest
from django.urls import reverse

from devices import services, tokens
from devices.models import DeviceToken, Membership
from memories import deletion
from memories.models import DeletionRequest


def _confirmation(response) -> str:
    html = response.content.decode()
    assert response.status_code == 200 and "What will happen:" in html and 'name="confirmed" value="yes"' in html
    return html


def test_removing_the_co_parent_asks_first(family, login):
    a2 = family.household_a.memberships.get(user=family.parent_a2)
    client = login(family.parent_a)
    url = reverse("household:member_remove", args=[a2.pk])
    assert f'href="{url}"' in client.get(reverse("household:detail")).content.decode()  # a link, not a POST
    for response in (client.get(url), client.post(url)):  # a POST without the confirmation: the page again
        html = _confirmation(response)
        assert "parent.a2@example.test can no longer log in" in html
    assert Membership.objects.filter(pk=a2.pk).exists()
    assert client.post(url, {"confirmed": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=a2.pk).exists()


def test_revoking_a_token_asks_first(family, login):
    token, _ = tokens.token_create(actor=family.admin, name="Server A", device=family.device_a)
    client = login(family.admin)
    url = reverse("agents:token_revoke", args=[token.pk])
    for response in (client.get(url), client.post(url)):
        assert family.device_a.mac in _confirmation(response) and "refused (401)" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None
    client.post(url, {"confirmed": "yes"})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_prompt_rollback_asks_first(family, login):
    services.agent_save(actor=family.admin, agent=family.agent, memory_prompt="Keep everything.")
    client = login(family.admin)
    url = reverse("agents:rollback", args=[family.agent.pk, 1])
    html = _confirmation(client.get(url))
    assert "saved as a new version v3" in html and "Keep interests and friends&#x27; first names." in html
    _confirmation(client.post(url))
    family.agent.refresh_from_db()
    assert family.agent.memory_prompt == "Keep everything."
    client.post(url, {"confirmed": "yes"})
    family.agent.refresh_from_db()
    assert family.agent.memory_prompt == "Keep interests and friends' first names."
    assert client.get(reverse("agents:rollback", args=[family.agent.pk, 9])).status_code == 404


@pytest.mark.parametrize("htmx", [False, True])
def test_supports_execute_needs_the_box_ticked(htmx, family, login, django_capture_on_commit_callbacks):
    req = deletion.request_create(actor=family.parent_a, household=family.household_a, scope="child",
                                  child=family.child_a)
    req = deletion.request_verify(actor=family.support, req=req, identity_check="Called back")
    req = deletion.request_schedule(actor=family.support, req=req)
    client = login(family.support)
    page = client.get(reverse("support:request_detail", args=[req.pk])).content.decode()
    assert 'name="confirmed" value="yes" required' in page and "This cannot be undone" in page
    headers = {"HX-Request": "true"} if htmx else {}
    url = reverse("support:request_execute", args=[req.pk])
    refused = client.post(url, headers=headers)
    assert "Tick the box to confirm" in refused.content.decode()
    assert DeletionRequest.objects.get(pk=req.pk).state == DeletionRequest.State.SCHEDULED
    with django_capture_on_commit_callbacks():  # the job itself is not run here
        client.post(url, {"confirmed": "yes"}, headers=headers)
    assert DeletionRequest.objects.get(pk=req.pk).state == DeletionRequest.State.EXECUTING


def test_reloading_after_creating_a_token_creates_no_second_one(family, login):
    client = login(family.admin)
    created = client.post(reverse("agents:tokens"), {"name": "Fleet", "scope": "fleet"})
    assert created.status_code == 302 and created["Location"] == reverse("agents:tokens")
    shown = client.get(created["Location"])
    raw = shown.context["raw"]
    assert raw and raw in shown.content.decode() and 'data-copy="#new-token"' in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    reloaded = client.get(created["Location"])  # the browser's reload of the page it was sent to
    assert raw not in reloaded.content.decode() and DeviceToken.objects.count() == 1


def test_the_copy_script_is_served_and_runs_under_the_csp(client):
    from django.contrib.staticfiles import finders

    script = open(finders.find("js/copy.js")).read()
    assert "navigator.clipboard" in script and "eval(" not in script and "innerHTML" not in script
