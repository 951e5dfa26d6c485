"""Deleting is complete: nothing of the text is left in any store, and large deletes run
as jobs with progress."""

import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from memories import services
from memories.models import Job, MemoryChange, MemoryFeedback, MemoryUsage
from portal.errors import ApplicationError
from portal.models import AuditEvent
from tests.conftest import wait_for

VECTOR = [0.0, 1.0] + [0.0] * 382


def _leftovers(gw, namespace, marker, ids):
    traces = gw.traces(namespace, marker=marker, memory_ids=ids)
    return {key: traces[key] for key in ("marker_vectors", "marker_history", "marker_messages", "history",
                                         "entities", "messages")}


def _memories_with_every_kind_of_record(family, gw, remember, marker, count=20):
    """Memories with history (add + correct), a rating, usage and an export file."""
    ids = gw.bulk_insert(family.device_a.namespace, [f"{marker} bulk fact {i}" for i in range(count)],
                         vectors=[VECTOR] * count)
    added = remember(f"{marker} likes the moon")
    services.memory_correct(actor=family.parent_a, child=family.child_a, memory_id=added.id,
                            text=f"{marker} likes the moon and the stars")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=added.id,
                         rating="NEGATIVE", reason=f"{marker} reason")
    MemoryUsage.objects.create(memory_id=added.id, namespace=family.child_a.namespace, device=family.device_a,
                               count=3, last_used_at=timezone.now())
    return [*ids, added.id]


def _export_file(family, fmt="json") -> Path:
    job = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                             created_by=family.parent_a, params={"format": fmt})
    services.job_run(job.pk)
    job.refresh_from_db()
    return Path(settings.EXPORT_DIR) / job.file_path


def test_delete_all_leaves_no_trace_in_any_store(family, gw, remember, marker, login, caplog):
    caplog.set_level(logging.DEBUG)
    ids = _memories_with_every_kind_of_record(family, gw, remember, marker)
    export = _export_file(family)
    assert marker in export.read_text()
    client = login(family.parent_a)
    response = client.post(reverse("memories:delete_all", args=[family.child_a.pk]), {"confirmation": " rahul "})
    job = Job.objects.get(child=family.child_a, kind=Job.Kind.DELETE_MEMORIES)
    assert response.status_code == 302 and response["Location"] == reverse("memories:job", args=[job.pk])
    services.job_run(job.pk)  # what the worker does (see the worker test below)
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.percent == 100 and job.total == len(ids)
    assert set(_leftovers(gw, family.device_a.namespace, marker, ids).values()) == {0}
    assert gw.traces(family.device_a.namespace)["vectors"] == 0
    for model in (MemoryChange, MemoryFeedback, MemoryUsage):
        assert not model.objects.filter(memory_id__in=ids).exists(), model
    assert not export.exists()
    assert not any(marker in p.read_text(errors="ignore") for p in Path(settings.EXPORT_DIR).glob("*") if p.is_file())
    assert marker not in caplog.text
    assert not AuditEvent.objects.filter(detail__icontains=marker).exists()
    event = AuditEvent.objects.get(action="memory.delete_all", child_id=family.child_a.pk)
    assert event.count == len(ids) and event.actor == family.parent_a


def test_delete_all_leaves_the_other_family_alone(family, gw, foreign, remember):
    remember("something of Rahul")
    job = services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    services.job_run(job.pk)
    assert gw.get(foreign.id) is not None


def test_delete_all_needs_the_childs_name(family, remember, login, gw):
    memory = remember("kept")
    with pytest.raises(ApplicationError) as exc:
        services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Mia")
    assert exc.value.field == "confirmation"
    client = login(family.parent_a)
    page = client.get(reverse("memories:delete_all", args=[family.child_a.pk]))
    assert "Type Rahul to confirm" in page.content.decode()
    response = client.post(reverse("memories:delete_all", args=[family.child_a.pk]), {"confirmation": "yes"})
    assert response.status_code == 200 and "Type Rahul to confirm" in response.content.decode()
    assert gw.get(memory.id) is not None and not Job.objects.exists()


def test_delete_a_selection(family, remember, login, gw, marker):
    chosen = [remember(f"{marker} chosen {i}") for i in range(3)]
    kept = remember("kept")
    client = login(family.parent_a)
    url = reverse("memories:delete_selected", args=[family.child_a.pk])
    asked = client.post(url, {"memory_ids": [m.id for m in chosen]})  # first: what will happen
    assert asked.status_code == 200 and "Delete 3 memories?" in asked.content.decode()
    assert f"{marker} chosen 2" in asked.content.decode() and gw.get(chosen[0].id) is not None
    response = client.post(url, {"memory_ids": [m.id for m in chosen], "confirmed": "yes"})
    assert response.status_code == 302
    assert [gw.get(m.id) for m in chosen] == [None] * 3 and gw.get(kept.id) is not None
    leftovers = _leftovers(gw, family.device_a.namespace, marker, [m.id for m in chosen])
    assert set(leftovers.values()) == {0}, leftovers
    assert not MemoryChange.objects.filter(memory_id__in=[m.id for m in chosen]).exists()
    assert AuditEvent.objects.get(action="memory.delete").count == 3


def test_an_empty_selection_is_a_message_not_an_error(family, login):
    client = login(family.parent_a)
    response = client.post(reverse("memories:delete_selected", args=[family.child_a.pk]), follow=True)
    assert response.status_code == 200 and "Choose at least one memory" in response.content.decode()


@pytest.mark.worker
def test_large_delete_runs_on_the_worker_with_progress(family, gw, remember, marker, worker, login, monkeypatch):
    monkeypatch.setattr(services, "DELETE_INLINE_MAX", 5)
    ids = gw.bulk_insert(family.device_a.namespace, [f"{marker} {i}" for i in range(30)], vectors=[VECTOR] * 30)
    foreign = gw.bulk_insert(family.device_b.namespace, [f"{marker} B"], vectors=[VECTOR])
    client = login(family.parent_a)
    response = client.post(reverse("memories:delete_selected", args=[family.child_a.pk]),
                           {"memory_ids": [*ids[:12], *foreign], "confirmed": "yes"})
    job = Job.objects.get(kind=Job.Kind.DELETE_MEMORIES)
    assert response["Location"] == reverse("memories:job", args=[job.pk])
    wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.DONE, timeout=90)
    assert Job.objects.get(pk=job.pk).percent == 100
    assert gw.get(foreign[0]) is not None  # another family's id in the selection is skipped
    assert gw.traces(family.device_a.namespace, marker=marker)["marker_vectors"] == 18 + 1  # + household B's
    page = client.get(reverse("memories:job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "100%" in page and "every 1s" not in page
    everything = services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    polling = client.get(reverse("memories:job", args=[everything.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in polling or "100%" in polling
    wait_for(lambda: Job.objects.get(pk=everything.pk).state == Job.State.DONE, timeout=90)
    assert Job.objects.get(pk=everything.pk).percent == 100
    assert gw.traces(family.device_a.namespace, marker=marker)["marker_vectors"] == 1  # only household B's
    assert not any(marker in line for line in worker.lines)


def test_job_page_is_the_households_only(family, login):
    job = Job.objects.create(kind=Job.Kind.DELETE_MEMORIES, household=family.household_a, child=family.child_a)
    assert login(family.parent_b).get(reverse("memories:job", args=[job.pk])).status_code == 404
    assert login(family.parent_a2).get(reverse("memories:job", args=[job.pk])).status_code == 200
