"""Profile-sync queue rows: state the parent sees, the sweep, birthdays."""

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from devices import services
from devices.models import ProfileSync
from memories import sync, tasks


def test_parent_sees_pending_failed_and_synced(family, login):
    client = login(family.parent_a)
    url = reverse("child_sync", args=[family.child_a.pk])
    assert "Pending" in client.get(url).content.decode()
    row = ProfileSync.objects.filter(child=family.child_a).latest("created_at")
    sync.mark_failed(row, ConnectionError("mem0 down"))
    ProfileSync.objects.filter(child=family.child_a).exclude(pk=row.pk).update(state=ProfileSync.State.DONE)
    body = client.get(url).content.decode()
    assert "Failed — retrying" in body and "attempt 1" in body
    sync.mark_done(row)
    assert "Synced at" in client.get(url).content.decode()


def test_failure_message_is_short_and_typed(family):
    row = ProfileSync.objects.filter(child=family.child_a).latest("created_at")
    sync.mark_failed(row, RuntimeError("x" * 1000))
    row.refresh_from_db()
    assert row.state == ProfileSync.State.FAILED and row.attempts == 1
    assert row.last_error.startswith("RuntimeError: ") and len(row.last_error) < 250


def test_a_claimed_row_is_not_claimed_twice(family):
    row = ProfileSync.objects.filter(child=family.child_a).latest("created_at")
    assert sync.claim(row.pk) is not None
    assert sync.claim(row.pk) is None


def test_sweep_finds_rows_left_pending_or_stuck(family, settings):
    settings.OUTBOX_STALE_SECONDS = 60
    old = timezone.now() - timedelta(minutes=30)
    rows = list(ProfileSync.objects.filter(child=family.child_a))
    ProfileSync.objects.filter(pk=rows[0].pk).update(updated_at=old)
    fresh = ProfileSync.objects.create(child=family.child_a)
    stuck = ProfileSync.objects.create(child=family.child_a, state=ProfileSync.State.RUNNING)
    ProfileSync.objects.filter(pk=stuck.pk).update(updated_at=old - timedelta(hours=1))
    ids = sync.stale_ids(ProfileSync)
    assert rows[0].pk in ids and stuck.pk in ids and fresh.pk not in ids
    assert ProfileSync.objects.get(pk=stuck.pk).state == ProfileSync.State.FAILED  # claimable again


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

    settings.OUTBOX_STALE_SECONDS = 60
    lost = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a)
    fresh = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a)
    done = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                              state=Job.State.DONE)
    Job.objects.filter(pk__in=[lost.pk, done.pk]).update(updated_at=timezone.now() - timedelta(minutes=5))
    ids = sync.stale_ids(Job)
    assert lost.pk in ids and fresh.pk not in ids and done.pk not in ids
