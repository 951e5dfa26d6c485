"""Agent pages for admins: settings, devices, memory prompt versions, diff and rollback."""

import pytest
from django.urls import reverse

from devices import services
from devices.models import Agent, AgentPromptVersion, Device
from portal.errors import ApplicationError
from tests.memories.conftest_api import api_url

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Luna",
    "system_prompt": "You are Luna.\n{{child_profile}}",
    "memory_enabled": "on",
    "memory_prompt": "Keep interests.\nNever keep addresses.",
    "note": "first draft",
    "categories": "animals | Animals | Pets and wild animals\nspace | Space | Planets and rockets",
}


def test_admin_creates_an_agent_with_categories_and_devices(family, login):
    data = {**FORM, "devices": [family.device_a.pk]}
    response = login(family.admin).post(reverse("agents:create"), data)
    assert response.status_code == 302
    agent = Agent.objects.get(name="Luna")
    assert response["Location"] == reverse("agents:edit", args=[agent.pk])
    assert agent.memory_enabled and agent.categories == [
        {"key": "animals", "label": "Animals", "description": "Pets and wild animals"},
        {"key": "space", "label": "Space", "description": "Planets and rockets"}]
    version = agent.prompt_versions.get()
    assert (version.number, version.note, version.created_by) == (1, "first draft", family.admin)
    assert list(agent.devices.all()) == [family.device_a]


def test_the_api_follows_the_agent_a_device_runs(family, login, toy):
    data = {**FORM, "devices": [family.device_a.pk]}
    login(family.admin).post(reverse("agents:create"), data)
    body = toy.get(api_url(family.device_a.mac, "config")).json()
    assert body["agent"]["name"] == "Luna" and body["system_prompt"].startswith("You are Luna.\nChild Profile")


def test_editing_the_memory_prompt_makes_a_version_other_edits_do_not(family, login):
    client = login(family.admin)
    url = reverse("agents:edit", args=[family.agent.pk])
    page = client.get(url)
    assert page.status_code == 200 and page.context["form"].initial["devices"] == [family.device_a.pk,
                                                                                   family.device_b.pk]
    base = {"name": family.agent.name, "system_prompt": "You are Buddy.", "memory_enabled": "on",
            "memory_prompt": family.agent.memory_prompt, "categories": "",
            "devices": [family.device_a.pk, family.device_b.pk]}
    assert client.post(url, base).status_code == 302
    assert family.agent.prompt_versions.count() == 1
    client.post(url, {**base, "memory_prompt": "Keep only interests.", "note": "stricter"})
    latest = family.agent.prompt_versions.first()
    assert (latest.number, latest.memory_prompt, latest.note) == (2, "Keep only interests.", "stricter")


def test_unticked_devices_stop_running_the_agent(family, login):
    url = reverse("agents:edit", args=[family.agent.pk])
    login(family.admin).post(url, {"name": family.agent.name, "memory_prompt": family.agent.memory_prompt,
                                   "devices": [family.device_b.pk]})
    assert Device.objects.get(pk=family.device_a.pk).agent is None
    assert Device.objects.get(pk=family.device_b.pk).agent == family.agent
    family.agent.refresh_from_db()
    assert family.agent.memory_enabled is False  # unticked checkbox: memory off


@pytest.mark.parametrize("field, value", [
    ("categories", "Not A Key | x"),
    ("categories", "a | A\na | again"),
    ("name", ""),
])
def test_form_errors_are_shown_and_nothing_changes(family, login, field, value):
    response = login(family.admin).post(reverse("agents:create"), {**FORM, field: value})
    assert response.status_code == 200 and response.context["form"].errors[field]
    assert not Agent.objects.filter(name="Luna").exists()


def test_agent_names_are_unique(family, login):
    response = login(family.admin).post(reverse("agents:create"), {**FORM, "name": family.agent.name.upper()})
    assert response.status_code == 200 and "Another agent" in response.context["form"].errors["name"][0]


def test_versions_page_shows_an_escaped_diff(family, login):
    services.agent_save(actor=family.admin, agent=family.agent, note="v2",
                        memory_prompt="Keep interests and friends' first names.\n<script>alert(1)</script>")
    response = login(family.admin).get(reverse("agents:versions", args=[family.agent.pk]) + "?a=1&b=2")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert '<li class="diff-add"><ins>+ &lt;script&gt;alert(1)&lt;/script&gt;</ins></li>' in html
    assert response.context["diff"][0][0] in ("same", "del", "add")
    kinds = {kind for kind, _ in response.context["diff"]}
    assert "add" in kinds


def test_diff_of_any_two_versions(family, login):
    services.agent_save(actor=family.admin, agent=family.agent, memory_prompt="second")
    services.agent_save(actor=family.admin, agent=family.agent, memory_prompt="third")
    response = login(family.admin).get(reverse("agents:versions", args=[family.agent.pk]) + "?a=3&b=1")
    assert response.context["diff"] == [("del", "third"), ("add", "Keep interests and friends' first names.")]
    default = login(family.admin).get(reverse("agents:versions", args=[family.agent.pk]))
    assert (default.context["a"], default.context["b"]) == (2, 3)


def test_rollback_makes_a_new_version_equal_to_the_old_one(family, login):
    original = family.agent.memory_prompt
    services.agent_save(actor=family.admin, agent=family.agent, memory_prompt="Keep everything.")
    response = login(family.admin).post(reverse("agents:rollback", args=[family.agent.pk, 1]), {"confirmed": "yes"})
    assert response.status_code == 302
    family.agent.refresh_from_db()
    assert family.agent.memory_prompt == original
    versions = list(family.agent.prompt_versions.values_list("number", "memory_prompt", "note"))
    assert versions[0] == (3, original, "Rollback to version 1")
    assert len(versions) == 3


def test_rollback_to_the_current_prompt_or_an_unknown_version_changes_nothing(family, login):
    client = login(family.admin)
    client.post(reverse("agents:rollback", args=[family.agent.pk, 1]), {"confirmed": "yes"})
    client.post(reverse("agents:rollback", args=[family.agent.pk, 7]), {"confirmed": "yes"})
    assert family.agent.prompt_versions.count() == 1
    with pytest.raises(ApplicationError):
        services.agent_rollback(actor=family.admin, agent=family.agent, number=1)


def test_agent_list_in_a_fixed_number_of_queries(family, login, django_assert_max_num_queries):
    for n in range(5):
        services.agent_save(actor=family.admin, name=f"Agent {n}", memory_prompt=f"prompt {n}")
    client = login(family.admin)
    client.get(reverse("agents:list"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("agents:list"))
    assert response.status_code == 200 and family.agent.name in response.content.decode()


def test_agent_pages_are_for_admins_only(family, client):
    pk = family.agent.pk
    pages = [("get", reverse("agents:list")), ("get", reverse("agents:create")), ("get", reverse("agents:edit", args=[pk])),
             ("post", reverse("agents:edit", args=[pk])), ("get", reverse("agents:versions", args=[pk])),
             ("post", reverse("agents:rollback", args=[pk, 1])), ("get", reverse("playground:run", args=[pk]))]
    for method, url in pages:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    for user in (family.parent_a, family.support):
        client.force_login(user)
        for method, url in pages:
            assert getattr(client, method)(url).status_code == 403, (user, url)
    client.force_login(family.admin)
    assert client.get(reverse("agents:edit", args=[99999])).status_code == 404
    assert client.put(reverse("agents:rollback", args=[pk, 1])).status_code == 405
    assert AgentPromptVersion.objects.filter(agent_id=pk).count() == 1
