"""A parent's memory delete has an undo window: the job (or the erasure of everything) runs
only once MEMORY_DELETE_GRACE_SECONDS have passed (its row's ``next_attempt_at``; the task
is sent with that ``eta`` and the worker's claim checks the time again), and the parent can
cancel it until a worker has taken it. After the window it is as complete as before."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from memories import services
from memories.models import Erasure, Job
from portal.errors import ApplicationError
from portal.models import AuditEvent
from tests.conftest import wait_for


@pytest.fixture
def grace(settings):
    settings.MEMORY_DELETE_GRACE_SECONDS = 30
    return 30


def _due_now(job):
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())


def test_a_delete_waits_for_its_window_and_can_be_undone(family, remember, gw, grace):
    memory = remember("Rahul's secret hideout is behind the shed")
    job = services.memories_delete(actor=family.parent_a, child=family.child_a, memory_ids=[memory.id])
    assert isinstance(job, Job) and job.state == Job.State.PENDING and job.next_attempt_at > timezone.now()
    services.job_run(job.pk)  # a message delivered early: the claim checks the time
    assert gw.get(memory.id) is not None and Job.objects.get(pk=job.pk).state == Job.State.PENDING

    assert services.memories_delete_cancel(actor=family.parent_a, child=family.child_a, job_id=job.pk) == 1
    assert not Job.objects.filter(pk=job.pk).exists()
    services.job_run(job.pk)  # the message arrives after the undo: nothing to do
    assert gw.get(memory.id) is not None
    assert AuditEvent.objects.get(action="memory.delete_cancel").count == 1
    assert not AuditEvent.objects.filter(action="memory.delete").exists()


def test_after_the_window_the_delete_is_complete_and_too_late_to_undo(family, remember, gw, grace):
    memory = remember("Rahul's secret hideout is behind the shed")
    job = services.memories_delete(actor=family.parent_a, child=family.child_a, memory_ids=[memory.id])
    _due_now(job)
    services.job_run(job.pk)
    assert gw.get(memory.id) is None and Job.objects.get(pk=job.pk).state == Job.State.DONE
    with pytest.raises(ApplicationError, match="Too late"):
        services.memories_delete_cancel(actor=family.parent_a, child=family.child_a, job_id=job.pk)


def test_delete_everything_starts_its_erasure_only_after_the_window(family, remember, gw, grace):
    memory = remember("Rahul's secret hideout is behind the shed")
    epoch = family.child_a.memory_epoch
    job = services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    assert not Erasure.objects.filter(child=family.child_a).exists()  # toys keep learning meanwhile
    services.memories_delete_cancel(actor=family.parent_a, child=family.child_a, job_id=job.pk)
    family.child_a.refresh_from_db()
    assert family.child_a.memory_epoch == epoch and gw.get(memory.id) is not None

    job = services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    _due_now(job)
    services.job_run(job.pk)
    erasure = Erasure.objects.get(child=family.child_a)
    assert erasure.state == Erasure.State.DONE and Job.objects.get(pk=job.pk).params["erasure_id"] == erasure.pk
    assert gw.get(memory.id) is None


def test_the_list_shows_the_pending_delete_with_undo(family, remember, login, gw, grace):
    memory, other = remember("Rahul's secret hideout is behind the shed"), remember("Rahul likes kites")
    client = login(family.parent_a)
    list_url = reverse("memories:list", args=[family.child_a.pk])
    response = client.post(reverse("memories:delete", args=[family.child_a.pk, memory.id]), follow=True)
    assert response.redirect_chain[-1][0] == list_url
    body = response.content.decode()
    job = Job.objects.get(kind=Job.Kind.DELETE_MEMORIES)
    assert "1 memory will be deleted at" in body and "Undo" in body and "Being deleted" in body
    assert body.count("Being deleted") == 1  # only the memory being deleted
    page = client.get(reverse("memories:job", args=[job.pk])).content.decode()
    assert "The deletion starts at" in page and reverse("memories:undo", args=[job.pk]) in page

    stranger = Client()
    stranger.force_login(family.parent_b)
    assert stranger.post(reverse("memories:undo", args=[job.pk])).status_code == 404
    undone = client.post(reverse("memories:undo", args=[job.pk]), follow=True)
    assert "Undone: nothing was deleted" in undone.content.decode()
    assert gw.get(memory.id) is not None and gw.get(other.id) is not None
    assert "Being deleted" not in client.get(list_url).content.decode()


def test_the_confirmations_say_there_is_an_undo_window(family, remember, login, grace):
    memory = remember("Rahul's secret hideout is behind the shed")
    client = login(family.parent_a)
    asked = client.post(reverse("memories:delete_selected", args=[family.child_a.pk]), {"memory_ids": [memory.id]})
    assert "deleted after 30 seconds; until then you can undo it" in asked.content.decode()
    one = client.get(reverse("memories:delete", args=[family.child_a.pk, memory.id])).content.decode()
    assert "deleted 30 seconds after you confirm" in one
    everything = client.get(reverse("memories:delete_all", args=[family.child_a.pk])).content.decode()
    assert "starts 30 seconds after you confirm" in everything


@pytest.mark.worker
def test_on_the_worker_an_undone_delete_never_runs_and_the_other_runs_after_its_window(
        family, gw, worker, login, settings):
    """Two deletes with a real worker: the first is undone in its window, the second runs
    once its window has passed (its ``eta``), and both messages reach the worker."""
    settings.MEMORY_DELETE_GRACE_SECONDS = 8
    kept = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul loves the blue kite")
    gone = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul lost a tooth today")
    client = login(family.parent_a)
    sent = len([line for line in worker.lines if "memories.tasks.job_run" in line and "succeeded" in line])
    for memory in (kept, gone):
        client.post(reverse("memories:delete", args=[family.child_a.pk, memory.id]))
    undo_job, run_job = Job.objects.filter(kind=Job.Kind.DELETE_MEMORIES).order_by("pk")
    client.post(reverse("memories:undo", args=[undo_job.pk]))

    wait_for(lambda: gw.get(gone.id) is None, timeout=90)
    wait_for(lambda: len([line for line in worker.lines
                          if "memories.tasks.job_run" in line and "succeeded" in line]) >= sent + 2, timeout=90)
    assert gw.get(kept.id) is not None
    run_job.refresh_from_db()
    assert run_job.state == Job.State.DONE
    deleted = AuditEvent.objects.get(action="memory.delete", detail__job_id=run_job.pk)
    assert deleted.created_at >= run_job.next_attempt_at  # it ran after its window, not before
