"""A child's memory has one door (issue: cross-household leaks through reused MACs, deletes
that miss things). Each test reproduces a finding seen on the old main."""

import json
from datetime import date

import pytest
from django.db import transaction
from django.db.models.deletion import ProtectedError
from django.urls import reverse

from devices import services
from devices.guards import ErasureRequired
from devices.models import ChildProfile, Device, Household
from memories import conversations, erasure
from memories import services as memory_services
from memories.erasure import erasure_run, erasure_start
from memories.models import Conversation, Erasure, MemoryChange, MemoryFeedback, MemoryUsage
from tests.conftest import make_user, unique_mac
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url

fake_llm, fleet, llm, toy = conftest_api.fake_llm, conftest_api.fleet, conftest_api.llm, conftest_api.toy

SESSION = [{"role": "assistant", "content": "What did you do today?"},
           {"role": "user", "content": "I built a volcano with my friend Arjun"}]


def run_erasures():
    """Run what the admin queued, as the worker would."""
    done = []
    for pk in Erasure.objects.filter(state=Erasure.State.PENDING).values_list("pk", flat=True):
        done.append(erasure_run(pk))
    return done


def context(toy, mac, query=""):
    return toy.get(api_url(mac, "memory-context"), {"query": query} if query else {})


# -- identity: memories belong to the child ------------------------------------------------------

@pytest.mark.django_db
def test_namespace_is_an_opaque_id_of_the_child_never_the_mac(family, toy):
    namespace = family.child_a.namespace
    assert namespace.startswith("child_") and family.device_a.mac not in namespace
    config = toy.get(api_url(family.device_a.mac, "config")).json()
    assert config["mem0_user_id"] == config["memory"]["user_id"] == namespace


@pytest.mark.django_db
def test_reused_mac_after_an_admin_device_delete_shows_nothing_of_the_other_family(family, login, gw, marker,
                                                                                toy):
    mac_b = unique_mac()
    device_b = services.device_register(actor=family.parent_b, household=family.household_b, mac=mac_b,
                                        child=family.child_b)
    memory_services.memory_add(actor=family.parent_b, child=family.child_b, device=device_b,
                               text=f"Mia's secret {marker}")
    response = login(family.admin).post(reverse("admin:devices_device_delete", args=[device_b.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Device.objects.filter(pk=device_b.pk).exists()

    services.device_register(actor=family.parent_a, household=family.household_a, mac=mac_b.upper().replace(":", "-"),
                             child=family.child_a)
    page = login(family.parent_a).get(reverse("memories:list", args=[family.child_a.pk]))
    served = context(toy, mac_b, "secret").json()
    assert marker not in page.content.decode()
    assert all(marker not in item["text"] for item in served["items"]) and marker not in served["block"]
    assert "Mia" not in toy.get(api_url(mac_b, "config")).json()["system_prompt"]
    # The deleted toy took nothing of Mia's with it: her memories stay hers.
    assert any(marker in r.text for r in gw.iter_all([family.child_b.namespace]))


@pytest.mark.django_db
def test_a_moved_toy_reads_the_new_childs_memories_and_nothing_follows_it(family, marker, toy):
    meera = services.child_create(actor=family.parent_a, household=family.household_a, name="Meera",
                                  birth_date=date(2021, 2, 14))
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a,
                               text=f"Rahul's secret {marker}")
    services.device_assign(actor=family.parent_a, device=family.device_a, child=meera)

    served = context(toy, family.device_a.mac).json()
    assert all(marker not in item["text"] for item in served["items"])
    assert toy.get(api_url(family.device_a.mac, "config")).json()["mem0_user_id"] == meera.namespace


@pytest.mark.django_db
def test_a_replacement_toy_carries_on_where_the_old_one_stopped(family, marker, toy):
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a,
                               text=f"Rahul likes {marker}")
    new_toy = services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac(),
                                       child=family.child_a)
    family.device_a.delete()  # the old toy broke: deleting it erases nothing of Rahul's

    served = context(toy, new_toy.mac).json()
    assert any(marker in item["text"] for item in served["items"])


@pytest.mark.django_db
def test_a_deleted_child_leaves_nothing_for_a_sibling_linked_to_the_same_toy(family, marker, toy, gw):
    meera = services.child_create(actor=family.parent_a, household=family.household_a, name="Meera",
                                  birth_date=date(2021, 2, 14))
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a,
                               text=f"Rahul's secret {marker}")
    namespace = family.child_a.namespace
    done = erasure_run(erasure_start(scope="child", origin="parent", actor=family.parent_a,
                                     child=family.child_a, enqueue=False).pk)
    assert done.state == Erasure.State.DONE and not ChildProfile.objects.filter(pk=family.child_a.pk).exists()
    services.device_assign(actor=family.parent_a, device=Device.objects.get(pk=family.device_a.pk), child=meera)

    assert all(marker not in item["text"] for item in context(toy, family.device_a.mac).json()["items"])
    assert gw.traces(namespace, marker=marker)["vectors"] == 0


# -- nothing deletes a child, household or account around the erase path --------------------------

@pytest.mark.django_db
def test_plain_deletes_of_children_households_and_parents_are_refused(family):
    with pytest.raises((ErasureRequired, ProtectedError)), transaction.atomic():
        family.household_a.delete()
    with pytest.raises(ErasureRequired), transaction.atomic():
        ChildProfile.objects.filter(pk=family.child_a.pk).delete()
    with pytest.raises(ErasureRequired), transaction.atomic():
        family.parent_b.delete()
    assert ChildProfile.objects.filter(pk=family.child_a.pk).exists()
    family.support.delete()  # no household: nothing of a child's


@pytest.mark.django_db
def test_admin_household_delete_runs_the_erase_path(family, login, gw, marker):
    memory_services.memory_add(actor=family.parent_b, child=family.child_b, text=f"Mia {marker}")
    namespace = family.child_b.namespace
    client = login(family.admin)
    assert client.get(reverse("admin:devices_household_delete", args=[family.household_b.pk])).status_code == 200
    response = client.post(reverse("admin:devices_household_delete", args=[family.household_b.pk]), {"post": "yes"})
    assert response.status_code == 302
    queued = Erasure.objects.get(household=family.household_b)
    assert queued.scope == "household" and queued.origin == "admin"

    (done,) = run_erasures()
    assert done.state == Erasure.State.DONE, done.last_error
    assert not Household.objects.filter(pk=family.household_b.pk).exists()
    assert not Device.objects.filter(pk=family.device_b.pk).exists()
    assert gw.traces(namespace, marker=marker) == {k: 0 for k in gw.traces(namespace, marker=marker)}
    assert set(done.receipt["verified_empty"]) >= {"vectors", "conversations", "feedback", "usage", "exports"}


@pytest.mark.django_db
def test_admin_bulk_delete_of_children_runs_the_erase_path_for_each(family, login):
    client = login(family.admin)
    response = client.post(reverse("admin:devices_childprofile_changelist"), {
        "action": "delete_selected", "_selected_action": [family.child_a.pk, family.child_b.pk], "post": "yes"})
    assert response.status_code == 302
    assert Erasure.objects.filter(scope="child").count() == 2
    assert all(e.state == Erasure.State.DONE for e in run_erasures())
    assert not ChildProfile.objects.filter(pk__in=[family.child_a.pk, family.child_b.pk]).exists()


@pytest.mark.django_db
def test_admin_user_delete_closes_the_account_through_the_erase_path(family, login):
    client = login(family.admin)
    response = client.post(reverse("admin:auth_user_delete", args=[family.parent_b.pk]), {"post": "yes"})
    assert response.status_code == 302
    (done,) = run_erasures()
    assert done.scope == "account" and done.state == Erasure.State.DONE, done.last_error
    assert not Household.objects.filter(pk=family.household_b.pk).exists()  # parent B was its only member
    # Parent A2 shares household A: deleting them leaves the household to parent A.
    client.post(reverse("admin:auth_user_delete", args=[family.parent_a2.pk]), {"post": "yes"})
    run_erasures()
    assert Household.objects.filter(pk=family.household_a.pk).exists()


# -- deleting misses nothing ---------------------------------------------------------------------

@pytest.mark.django_db
def test_delete_everything_removes_stored_conversations_and_every_record(family, toy, gw, marker):
    record = memory_services.memory_add(actor=family.parent_a, child=family.child_a, text=f"Rahul {marker}")
    memory_services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=record.id,
                                rating="POSITIVE")
    context(toy, family.device_a.mac)  # usage counted
    post = toy.post(api_url(family.device_a.mac, "conversations"), data=json.dumps({"messages": SESSION}),
                    content_type="application/json")
    assert post.status_code == 202
    Conversation.objects.filter(pk=post.json()["id"]).update(state="failed")

    job = memory_services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    memory_services.job_run(job.pk)

    namespace = family.child_a.namespace
    assert not Conversation.objects.filter(child=family.child_a).exists()
    assert not MemoryFeedback.objects.filter(namespace=namespace).exists()
    assert not MemoryChange.objects.filter(namespace=namespace).exists()
    assert not MemoryUsage.objects.filter(namespace=namespace).exists()
    left = gw.traces(namespace, marker=marker)
    assert left["marker_vectors"] == 0 and left.get("marker_history", 0) == 0
    done = Erasure.objects.get(child=family.child_a)
    assert done.state == Erasure.State.DONE and done.receipt["reference"] == done.reference


@pytest.mark.django_db
def test_a_conversation_accepted_before_delete_everything_cannot_bring_memories_back(family, toy, llm, gw):
    post = toy.post(api_url(family.device_a.mac, "conversations"), data=json.dumps({"messages": SESSION}),
                    content_type="application/json")
    conversation_id = post.json()["id"]
    started = erasure_start(scope="memories", origin="parent", actor=family.parent_a, child=family.child_a,
                            enqueue=False)
    # The worker reaches the conversation before (or while) the erasure runs.
    conversations.conversation_extract(conversation_id)
    assert Conversation.objects.get(pk=conversation_id).drop_reason in ("erasing", "erased")
    erasure_run(started.pk)
    assert gw.count([family.child_a.namespace], exclude_kinds=["child_profile"]) == 0


@pytest.mark.django_db
def test_an_erasure_starting_while_the_llm_extracts_deletes_what_it_added(family, toy, llm, gw, monkeypatch):
    post = toy.post(api_url(family.device_a.mac, "conversations"), data=json.dumps({"messages": SESSION}),
                    content_type="application/json")
    conversation_id = post.json()["id"]
    real_add = gw.add_conversation
    added = []

    def add_while_an_erasure_starts(*args, **kwargs):
        added.extend(real_add(*args, **kwargs))  # the real extraction, with the LLM stand-in
        erasure_start(scope="memories", origin="parent", actor=family.parent_a, child=family.child_a,
                      enqueue=False)
        return added

    monkeypatch.setattr(gw, "add_conversation", add_while_an_erasure_starts)
    conversations.conversation_extract(conversation_id)

    assert added, "the stand-in LLM extracted nothing: the race was not exercised"
    assert Conversation.objects.get(pk=conversation_id).drop_reason == "erased"
    assert gw.count([family.child_a.namespace], exclude_kinds=["child_profile"]) == 0


@pytest.mark.django_db
def test_a_conversation_arriving_during_an_erasure_is_dropped(family, toy):
    erasure_start(scope="memories", origin="parent", actor=family.parent_a, child=family.child_a, enqueue=False)
    post = toy.post(api_url(family.device_a.mac, "conversations"), data=json.dumps({"messages": SESSION}),
                    content_type="application/json")
    assert post.json()["drop_reason"] == "erasing"
    assert Conversation.objects.get(pk=post.json()["id"]).messages == []


@pytest.mark.django_db
def test_nothing_is_served_while_an_erasure_is_queued_and_all_is_back_after(family, toy):
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    started = erasure_start(scope="memories", origin="parent", actor=family.parent_a, child=family.child_a,
                            enqueue=False)
    body = context(toy, family.device_a.mac).json()
    assert (body["reason"], body["items"]) == ("erasing", [])
    erasure_run(started.pk)
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes trains")
    assert [i["text"] for i in context(toy, family.device_a.mac).json()["items"]] == ["Rahul likes trains"]


@pytest.mark.django_db
def test_the_receipt_lists_what_was_verified_and_the_parent_finds_it_by_reference(family, login):
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    done = erasure_run(erasure_start(scope="memories", origin="parent", actor=family.parent_a,
                                     child=family.child_a, enqueue=False).pk)
    assert done.receipt["completed_at"] and done.reference.startswith("ER-")
    labels = [label for label, _ in erasure.receipt_rows(done.receipt)]
    assert len(labels) == len(done.receipt["verified_empty"]) >= 8
    page = login(family.parent_a).get(reverse("privacy:erasure_detail", args=[done.reference]))
    assert page.status_code == 200 and done.reference in page.content.decode()
    assert login(family.parent_b).get(reverse("privacy:erasure_detail", args=[done.reference])).status_code == 404
    listing = login(family.parent_a).get(reverse("privacy:overview")).content.decode()
    assert done.reference in listing


@pytest.mark.django_db
def test_playground_erasures_go_through_the_same_path(family, gw):
    namespace = "playground-test-ns"
    gw.add(namespace, "sample memory", {})
    done = erasure_run(erasure_start(scope="namespace", origin="playground", namespaces=[namespace],
                                     enqueue=False).pk)
    assert done.state == Erasure.State.DONE and gw.count([namespace]) == 0
    assert "vectors" in done.receipt["verified_empty"]


@pytest.mark.django_db
def test_a_former_parent_still_reads_the_receipt_of_their_closed_household(family, login):
    done = erasure_run(erasure_start(scope="household", origin="parent", actor=family.parent_b,
                                     household=family.household_b, enqueue=False).pk)
    assert done.state == Erasure.State.DONE, done.last_error
    assert login(family.parent_b).get(reverse("privacy:erasure_detail", args=[done.reference])).status_code == 200
    other = make_user("someone.else@example.test")
    assert login(other).get(reverse("privacy:erasure_detail", args=[done.reference])).status_code == 404


@pytest.mark.django_db
def test_on_the_platform_the_erasure_uses_its_deletes_and_verifies_the_same_way(family, settings, marker):
    from memories import gateway
    from memories.gateway import PlatformGateway
    from tests.fakes.mem0_platform import FakeMem0Platform

    fake = FakeMem0Platform().start()
    local = gateway.get()
    try:
        settings.MEM0_API_KEY, settings.MEM0_HOST = fake.api_key, fake.url
        gateway.reset_for_tests(PlatformGateway())
        namespace = family.child_a.namespace
        fake.seed(namespace, f"Rahul {marker}")
        fake.seed(family.child_b.namespace, "Mia likes cats")
        done = erasure_run(erasure_start(scope="memories", origin="parent", actor=family.parent_a,
                                         child=family.child_a, enqueue=False).pk)
        assert done.state == Erasure.State.DONE, done.last_error
        assert {"vectors", "entities"} <= set(done.receipt["verified_empty"])
        assert not [m for m in fake.memories.values() if m.get("user_id") == namespace]
        assert fake.seen("DELETE", f"/v2/entities/user/{namespace}/")  # the Platform's user delete
        assert [m for m in fake.memories.values() if m.get("user_id") == family.child_b.namespace]
    finally:
        gateway.reset_for_tests(local)
        fake.stop()
