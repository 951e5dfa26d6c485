"""Profile-sync queue rows: state the parent sees, the sweep, birthdays."""

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from devices import services
from devices.models import ProfileSync
from memories import tasks
from memories.gateway import Mem0Unavailable
from portal import queue


def test_parent_sees_pending_failed_dead_and_synced(family, login, settings):
    client = login(family.parent_a)
    url = reverse("child_sync", args=[family.child_a.pk])
    assert "Pending" in client.get(url).content.decode()
    row = queue.claim(ProfileSync, ProfileSync.objects.filter(child=family.child_a).latest("created_at").pk)
    queue.fail(row, ConnectionError("mem0 down"))
    ProfileSync.objects.filter(child=family.child_a).exclude(pk=row.pk).update(state=ProfileSync.State.DONE)
    body = client.get(url).content.decode()
    assert "Failed — retrying" in body and "attempt 1" in body
    settings.QUEUE_MAX_ATTEMPTS = 2
    ProfileSync.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    queue.fail(queue.claim(ProfileSync, row.pk), ConnectionError("mem0 down"))
    body = client.get(url).content.decode()
    assert "Failed — support has been told" in body and "hx-get" not in body  # no point polling
    queue.retry(ProfileSync, row.pk)
    queue.done(queue.claim(ProfileSync, row.pk), done_at=timezone.now())
    assert "Synced at" in client.get(url).content.decode()


def test_a_later_successful_push_covers_an_earlier_failure(family, login):
    client = login(family.parent_a)
    first = queue.claim(ProfileSync, ProfileSync.objects.filter(child=family.child_a).latest("created_at").pk)
    queue.fail(first, Mem0Unavailable("OperationalError"))
    later = services.child_update(actor=family.parent_a, child=family.child_a, interests=["kites"])
    row = ProfileSync.objects.filter(child=later).latest("created_at")
    queue.done(queue.claim(ProfileSync, row.pk), done_at=timezone.now())
    assert "Synced at" in client.get(reverse("child_sync", args=[family.child_a.pk])).content.decode()


def test_failure_message_is_short_and_typed(family):
    row = queue.claim(ProfileSync, ProfileSync.objects.filter(child=family.child_a).latest("created_at").pk)
    queue.fail(row, RuntimeError("x" * 1000))
    row.refresh_from_db()
    assert row.state == ProfileSync.State.FAILED and row.attempts == 1
    assert row.last_error == "RuntimeError"


def test_sweep_finds_rows_left_pending_or_stuck(family, settings):
    settings.QUEUE_LEASE_SECONDS = 60
    old = timezone.now() - timedelta(minutes=30)
    rows = list(ProfileSync.objects.filter(child=family.child_a))
    ProfileSync.objects.filter(pk=rows[0].pk).update(sent_at=old)  # its message was lost
    fresh = ProfileSync.objects.create(child=family.child_a)
    stuck = ProfileSync.objects.create(child=family.child_a, state=ProfileSync.State.RUNNING)
    ProfileSync.objects.filter(pk=stuck.pk).update(updated_at=old - timedelta(hours=1))
    queue.sweep(ProfileSync, "memories.tasks.profile_sync")
    stuck.refresh_from_db()
    assert stuck.state == ProfileSync.State.FAILED and stuck.attempts == 1  # its lost run counted
    ProfileSync.objects.filter(pk=stuck.pk).update(next_attempt_at=old)
    ids = queue.due_ids(ProfileSync)
    assert rows[0].pk not in ids  # the sweep sent it: not again while that message waits
    assert stuck.pk in ids and fresh.pk not in ids


def test_birthdays_today_are_pushed_daily(family):
    today = timezone.localdate()
    born = date(today.year - 6, 3, 1) if (today.month, today.day) == (2, 29) else today.replace(year=today.year - 6)
    birthday = services.child_create(actor=family.parent_a, household=family.household_a, name="Asha",
                                     birth_date=born)
    ProfileSync.objects.all().delete()
    assert tasks.profiles_push_age_changes() >= 1
    pushed = set(ProfileSync.objects.values_list("child_id", flat=True))
    assert birthday.pk in pushed
    assert family.child_b.pk not in pushed or family.child_b.birth_date.strftime("%m%d") == today.strftime("%m%d")


def test_sweep_sends_jobs_again_when_their_message_was_lost(family, settings):
    from memories.models import Job

    settings.QUEUE_LEASE_SECONDS = 60
    lost = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a)
    fresh = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a)
    done = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                              state=Job.State.DONE)
    Job.objects.filter(pk__in=[lost.pk, done.pk]).update(sent_at=timezone.now() - timedelta(minutes=5))
    ids = queue.due_ids(Job)
    assert lost.pk in ids and fresh.pk not in ids and done.pk not in ids
