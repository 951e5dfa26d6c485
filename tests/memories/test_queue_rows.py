"""One queue-row lifecycle for every queue (portal.queue): claim once, bounded retries with
backoff, dead rows, and a sweep that never starts a second chain for a row."""

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import ProfileSync
from memories import sync, tasks
from memories.gateway import Mem0Unavailable
from memories.models import Conversation, Erasure, Job
from portal import queue

State = ProfileSync.State


def latest_row(family) -> ProfileSync:
    return ProfileSync.objects.filter(child=family.child_a).latest("created_at")


def make_due(row) -> None:
    """Time passes: the row's backoff has run out."""
    type(row).objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_every_queue_is_registered():
    assert {q.key: q.task_name for q in queue.queues()} == {
        "devices.profilesync": "memories.tasks.profile_sync",
        "memories.conversation": "memories.tasks.conversation_extract",
        "memories.erasure": "memories.tasks.erasure_run",
        "memories.job": "memories.tasks.job_run",
    }


def test_claim_twice_runs_once(family):
    row = latest_row(family)
    assert queue.claim(ProfileSync, row.pk) is not None
    assert queue.claim(ProfileSync, row.pk) is None


def test_a_running_row_is_taken_over_only_past_the_lease_and_that_counts(family, settings):
    settings.QUEUE_LEASE_SECONDS = 300
    row = latest_row(family)
    queue.claim(ProfileSync, row.pk)
    ProfileSync.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(seconds=299))
    assert queue.claim(ProfileSync, row.pk) is None  # alive, maybe slow: left alone
    ProfileSync.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(seconds=301))
    taken = queue.claim(ProfileSync, row.pk)
    assert taken is not None and taken.attempts == 1  # the lost run was an attempt


def test_backoff_doubles_up_to_its_cap_and_the_last_attempt_makes_the_row_dead(family, settings):
    settings.QUEUE_BACKOFF_SECONDS, settings.QUEUE_BACKOFF_MAX_SECONDS, settings.QUEUE_MAX_ATTEMPTS = 60, 300, 6
    row, waits = latest_row(family), []
    for attempt in range(1, 7):
        claimed = queue.claim(ProfileSync, row.pk)
        assert claimed is not None, f"attempt {attempt} could not claim"
        state = queue.fail(claimed, Mem0Unavailable("OperationalError"), "unreachable")
        failed = ProfileSync.objects.get(pk=row.pk)
        assert failed.attempts == attempt
        if attempt < 6:
            assert state == failed.state == State.FAILED
            assert queue.claim(ProfileSync, row.pk) is None  # not due yet: a stray message does nothing
            waits.append(round((failed.next_attempt_at - failed.updated_at).total_seconds()))
            make_due(failed)
    assert waits == [60, 120, 240, 300, 300]
    dead = ProfileSync.objects.get(pk=row.pk)
    assert dead.state == State.DEAD and dead.last_error == "Mem0Unavailable: unreachable"
    make_due(dead)
    assert queue.claim(ProfileSync, row.pk) is None
    assert dead.pk not in queue.due_ids(ProfileSync)


def test_the_error_kept_is_the_class_and_our_note_never_the_message(family):
    row = queue.claim(ProfileSync, latest_row(family).pk)
    words = "Rahul told the toy his secret hideout is behind the shed"
    queue.fail(row, RuntimeError(words * 20))
    row.refresh_from_db()
    assert row.last_error == "RuntimeError" and row.state == State.FAILED


def test_a_failing_task_does_not_retry_itself(family, monkeypatch, settings):
    """One chain per row: the task records the failure and ends; only the sweep sends the
    row again (today's Celery autoretry would start a second chain next to the sweep's)."""
    settings.QUEUE_BACKOFF_SECONDS = 60

    def down(child):
        raise Mem0Unavailable("OperationalError")

    monkeypatch.setattr(sync, "child_push", down)
    row = latest_row(family)
    result = tasks.profile_sync.apply(args=[row.pk])
    row.refresh_from_db()
    assert result.state == "SUCCESS", result.state
    assert (row.state, row.attempts) == (State.FAILED, 1)
    assert row.next_attempt_at > timezone.now() and row.sent_at is None


def test_the_sweep_picks_due_rows_and_rows_whose_worker_died(family, settings):
    settings.QUEUE_LEASE_SECONDS = 300
    long_ago = timezone.now() - timedelta(hours=1)
    fresh = latest_row(family)  # its creator's message is on its way
    lost = ProfileSync.objects.create(child=family.child_a)
    ProfileSync.objects.filter(pk=lost.pk).update(sent_at=long_ago)  # the message was lost
    waiting = ProfileSync.objects.create(child=family.child_a, state=State.FAILED, sent_at=None,
                                         next_attempt_at=timezone.now() + timedelta(minutes=5))
    stuck = ProfileSync.objects.create(child=family.child_a, state=State.RUNNING, sent_at=None)
    ProfileSync.objects.filter(pk=stuck.pk).update(updated_at=long_ago)
    assert set(queue.due_ids(ProfileSync)) == {lost.pk}
    queue.sweep(ProfileSync, "memories.tasks.profile_sync")
    stuck.refresh_from_db()
    assert stuck.state == State.FAILED and stuck.attempts == 1 and stuck.last_error.startswith("WorkerLost")
    assert fresh.pk not in queue.due_ids(ProfileSync) and waiting.pk not in queue.due_ids(ProfileSync)


def _drain(queue_name: str) -> list[tuple[str, list]]:
    """Every message waiting in the broker queue: (task name, args)."""
    from portal.celery import app

    found = []
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(queue_name, no_ack=True)) is not None:
            found.append((message.headers["task"], list(message.decode()[0])))
    return found


@pytest.fixture
def private_queue(transactional_db):
    """A broker queue no worker listens to: what is sent stays there to be counted."""
    from portal.celery import app

    before = app.conf.task_default_queue
    name = f"counted-{secrets.token_hex(4)}"
    app.conf.task_default_queue = name
    yield name
    app.conf.task_default_queue = before
    _drain(name)


def test_the_sweep_sends_a_due_row_once_and_not_again_while_it_is_queued(private_queue, family, monkeypatch,
                                                                          settings):
    settings.QUEUE_BACKOFF_SECONDS = 0  # the failed row is due at once
    settings.OUTBOX_STALE_SECONDS = 0  # (the old sweep's setting, for the same situation)

    def down(child):
        raise Mem0Unavailable("OperationalError")

    monkeypatch.setattr(sync, "child_push", down)
    row = latest_row(family)
    tasks.profile_sync.apply(args=[row.pk])
    assert ProfileSync.objects.get(pk=row.pk).state == State.FAILED
    _drain(private_queue)  # what the family's creation sent
    tasks.outbox_sweep()
    tasks.outbox_sweep()  # a minute later: the message is still waiting
    sent = [args for task, args in _drain(private_queue) if task == "memories.tasks.profile_sync"]
    assert sent.count([row.pk]) == 1, sent


@pytest.mark.django_db
def test_conversation_job_and_erasure_share_the_lifecycle(family):
    conversation = Conversation.objects.create(child=family.child_a, device=family.device_a,
                                               messages=[{"role": "user", "content": "hi"}])
    job = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a)
    erasure = Erasure.objects.create(reference=f"ER-{secrets.token_hex(4)}", scope="memories", origin="test",
                                     child=family.child_a, household=family.household_a)
    for model, pk in ((Conversation, conversation.pk), (Job, job.pk), (Erasure, erasure.pk)):
        claimed = queue.claim(model, pk)
        assert claimed is not None and queue.claim(model, pk) is None
        assert queue.fail(claimed, RuntimeError("x")) == "failed"
        assert queue.retry(model, pk) and model.objects.get(pk=pk).state == "pending"
