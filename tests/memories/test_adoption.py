"""A toy's memories from before the portal (memories.adoption), on both gateway backends: the
parent sees how many, nothing is served until they choose, then adopt (copied into the
child's memories, the toy's MAC namespaces erased through the one erase path) or erase."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from devices import services
from memories import adoption, tasks
from memories.erasure import erasure_run
from memories.models import Erasure
from portal.models import AuditEvent
from tests.conftest import unique_mac
from tests.memories import conftest_api

backend, fleet = conftest_api.backend, conftest_api.fleet

pytestmark = pytest.mark.django_db
OLD = ["Rahul's old toy knew he likes trains", "Rahul's old toy knew his dog is called Max"]


@pytest.fixture
def earlier(family, backend):
    """What Robot A's toy server wrote under its MAC before (two spellings), and a stranger's toy."""
    mac = family.device_a.mac
    backend.add(mac, OLD[0], {"source": "old server"})
    backend.add(mac.replace(":", "").upper(), OLD[1])
    backend.add(unique_mac(), "another toy's memory")
    return mac


def search(fleet, mac, query) -> list[str]:
    client = Client(headers={"Authorization": f"Token {fleet[1]}"})
    body = {"query": query, "filters": {"user_id": mac}, "top_k": 50}
    response = client.post("/api/v1/mem0/v3/memories/search/", data=json.dumps(body), content_type="application/json")
    return [r["memory"] for r in response.json()["results"]]


def child_texts(backend, child) -> list[str]:
    return [r.text for r in backend.iter_all([child.namespace])]


def test_the_parent_sees_how_many_and_nothing_is_served_until_they_choose(family, earlier, fleet, login):
    parent = login(family.parent_a)
    url = reverse("memories:toy_earlier", args=[family.device_a.pk])
    assert url in parent.get(reverse("child_detail", args=[family.child_a.pk])).content.decode()
    fragment = parent.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "already remembers 2 things" in fragment and "<html" not in fragment
    assert "trains" not in fragment and "Max" not in fragment  # a count, never the words
    assert search(fleet, earlier, "trains dog Max") == []


def test_adopting_copies_them_into_the_child_then_erases_the_toys_namespaces(family, earlier, backend, login,
                                                                              fleet):
    parent = login(family.parent_a)
    response = parent.post(reverse("memories:toy_earlier_adopt", args=[family.device_a.pk]))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="memory.adopt_start", actor=family.parent_a).exists()

    assert tasks.toy_memories_adopt(family.device_a.pk, family.child_a.pk, family.parent_a.pk) == 2
    adopted = [r for r in backend.iter_all([family.child_a.namespace]) if r.metadata.get("adopted_from")]
    assert sorted(r.text for r in adopted) == OLD
    assert {(r.kind, r.metadata["device_id"]) for r in adopted} == {("learned", str(family.device_a.pk))}
    erasure = Erasure.objects.get(scope="namespace", origin="adoption")
    assert set(adoption.toy_namespaces(family.device_a)) == set(erasure.namespaces)
    assert "Erasing" in parent.get(reverse("memories:toy_earlier", args=[family.device_a.pk])).content.decode()

    assert erasure_run(erasure.pk).state == "done"
    assert adoption.earlier_count(family.device_a) == 0
    assert sorted(search(fleet, earlier, "trains dog Max")) == OLD
    assert AuditEvent.objects.filter(action="memory.adopt", count=2, household=family.household_a).exists()
    page = parent.get(reverse("memories:toy_earlier", args=[family.device_a.pk])).content.decode()
    assert "brought no memories from before" in page


def test_a_rerun_copies_nothing_twice(family, earlier, backend):
    assert adoption._copy(family.device_a, family.parent_a.pk) == 2  # a run that died before erasing
    assert adoption.adopt_run(family.device_a.pk, family.child_a.pk, family.parent_a.pk) == 0
    assert sorted(t for t in child_texts(backend, family.child_a) if t in OLD) == OLD


def test_erasing_them_copies_nothing(family, earlier, backend, login):
    parent = login(family.parent_a)
    parent.post(reverse("memories:toy_earlier_erase", args=[family.device_a.pk]))
    erasure = Erasure.objects.get(scope="namespace", origin="parent", requested_by=family.parent_a)
    assert erasure_run(erasure.pk).state == "done"
    assert adoption.earlier_count(family.device_a) == 0
    assert not set(OLD) & set(child_texts(backend, family.child_a))


def test_a_toy_moved_to_another_child_before_the_task_adopts_nothing(family, earlier, backend, login):
    login(family.parent_a).post(reverse("memories:toy_earlier_adopt", args=[family.device_a.pk]))
    sister = services.child_create(actor=family.parent_a, household=family.household_a, name="Asha",
                                   birth_date=family.child_a.birth_date)
    services.device_assign(actor=family.parent_a, device=family.device_a, child=sister)
    assert tasks.toy_memories_adopt(family.device_a.pk, family.child_a.pk, family.parent_a.pk) == 0
    assert not set(OLD) & set(child_texts(backend, family.child_a) + child_texts(backend, sister))
    assert adoption.earlier_count(family.device_a) == 2  # still there: the parent chooses again


def test_an_unlinked_toy_can_only_erase_and_others_cannot_reach_it(family, earlier, login, client):
    services.device_assign(actor=family.parent_a, device=family.device_a, child=None)
    url = reverse("memories:toy_earlier", args=[family.device_a.pk])
    page = login(family.parent_a).get(url).content.decode()
    assert "Erase them" in page and "memories</button>" not in page
    login(family.parent_a).post(reverse("memories:toy_earlier_adopt", args=[family.device_a.pk]))
    assert not AuditEvent.objects.filter(action="memory.adopt_start").exists()
    client.force_login(family.parent_b)
    assert client.get(url).status_code == 404
    assert client.post(reverse("memories:toy_earlier_erase", args=[family.device_a.pk])).status_code == 404
    client.force_login(family.support)
    assert client.get(url).status_code == 403
    assert not Erasure.objects.filter(scope="namespace").exists()
