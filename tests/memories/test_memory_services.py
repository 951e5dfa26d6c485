"""The memory services: who did what is recorded, never the text; input is checked."""

import json

import pytest
from django.http import Http404

from devices import services as device_services
from memories import services, tasks
from memories.gateway import ListFilter
from memories.models import MemoryChange, MemoryFeedback
from portal.errors import ApplicationError
from portal.models import AuditEvent
from tests.conftest import unique_mac


def test_correct_records_who_and_audits_without_text(family, remember, gw):
    memory = remember("Rahul has a cat called Tiger")
    updated = services.memory_correct(actor=family.parent_a2, child=family.child_a, memory_id=memory.id,
                                      text="Rahul has a dog called Tiger")
    assert updated.text == gw.get(memory.id).text == "Rahul has a dog called Tiger"
    change = MemoryChange.objects.get(memory_id=memory.id, event="UPDATE")
    assert change.actor == family.parent_a2 and change.actor_role == "parent"
    event = AuditEvent.objects.get(action="memory.correct")
    assert event.child_id == family.child_a.pk and event.count == 1 and "Tiger" not in json.dumps(event.detail)
    assert [h.event for h in gw.history(memory.id)] == ["ADD", "UPDATE"]


def test_correcting_with_the_same_text_changes_nothing(family, remember):
    memory = remember("same")
    services.memory_correct(actor=family.parent_a, child=family.child_a, memory_id=memory.id, text=" same ")
    assert not MemoryChange.objects.filter(event="UPDATE").exists()


def test_another_familys_memory_is_not_found(family, foreign):
    with pytest.raises(Http404):
        services.memory_correct(actor=family.parent_a, child=family.child_a, memory_id=foreign.id, text="x")
    with pytest.raises(Http404):
        services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=foreign.id, rating="POSITIVE")
    with pytest.raises(Http404):
        services.memories_delete(actor=family.parent_a, child=family.child_a, memory_ids=[foreign.id])


@pytest.mark.parametrize("text, field", [("", "text"), ("x" * 2001, "text")])
def test_add_checks_the_text(family, text, field):
    with pytest.raises(ApplicationError) as exc:
        services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text)
    assert exc.value.field == field


def test_add_only_into_the_childs_own_toys(family):
    with pytest.raises(ApplicationError) as exc:
        services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_b, text="x")
    assert exc.value.field == "device"
    with pytest.raises(ApplicationError) as exc:
        services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text="x",
                            category="nonsense")
    assert exc.value.field == "category"


def test_add_is_verbatim_in_the_chosen_toy(family, gw):
    second = device_services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac(),
                                             name="Robot A2", child=family.child_a)
    record = services.memory_add(actor=family.parent_a, child=family.child_a, device=second,
                                 text="She is allergic to peanuts", category="health_safety")
    assert record.namespace == family.child_a.namespace and record.text == "She is allergic to peanuts"
    assert record.metadata == {"kind": "parent", "category": "health_safety", "category_by": "parent",
                               "device_id": str(second.pk)}


def test_very_negative_keeps_a_memory_from_the_toys(family, remember, gw):
    memory = remember("Rahul's password is 1234")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=memory.id,
                         rating="VERY_NEGATIVE", reason="private")
    assert gw.get(memory.id).blocked
    served = gw.search([family.device_a.namespace], "password", flt=ListFilter(exclude_blocked=True))
    assert memory.id not in [m.id for m in served]
    assert MemoryFeedback.objects.get(memory_id=memory.id).reason == "private"
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=memory.id, rating=None)
    assert not gw.get(memory.id).blocked and not MemoryFeedback.objects.filter(memory_id=memory.id).exists()


def test_rating_input_is_checked(family, remember):
    memory = remember("x")
    with pytest.raises(ApplicationError):
        services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=memory.id, rating="GREAT")
    with pytest.raises(ApplicationError):
        services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=memory.id, rating="NEGATIVE",
                             reason="r" * 301)


def test_feedback_mirror_task_is_idempotent(family, remember, gw):
    memory = remember("y")
    MemoryFeedback.objects.create(memory_id=memory.id, namespace=memory.namespace, child=family.child_a,
                                  rating="VERY_NEGATIVE")
    tasks.feedback_mirror(memory.id)
    tasks.feedback_mirror(memory.id)
    assert gw.get(memory.id).blocked


def test_a_job_runs_once(family):
    from memories.models import Job

    job = services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    assert Job.objects.filter(pk=job.pk).exists()
    services.job_run(job.pk)
    services.job_run(job.pk)  # a duplicate delivery: claimed already, nothing happens
    assert AuditEvent.objects.filter(action="memory.delete_all").count() == 1
