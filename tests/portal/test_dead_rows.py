"""Admins see the queue rows of every queue that failed for good, and send one again."""

import secrets

from django.urls import reverse

from devices.models import ProfileSync
from memories.gateway import Mem0Unavailable
from memories.models import Erasure, Job
from portal import queue
from portal.models import AuditEvent
from tests.memories.test_queue_rows import _drain


def kill(row, settings, note="unreachable"):
    """Fail a row for the last time (QUEUE_MAX_ATTEMPTS = 1)."""
    settings.QUEUE_MAX_ATTEMPTS = 1
    claimed = queue.claim(type(row), row.pk)
    assert queue.fail(claimed, Mem0Unavailable("OperationalError"), note) == "dead"
    return claimed


def dead_push(family, settings):
    return kill(ProfileSync.objects.filter(child=family.child_a).latest("created_at"), settings)


def test_admins_see_dead_rows_of_every_queue(family, login, settings, django_assert_max_num_queries):
    push = dead_push(family, settings)
    job = kill(Job.objects.create(kind=Job.Kind.EXPORT_CSV, household=family.household_a, child=family.child_a),
               settings, note="export failed")
    erasure = kill(Erasure.objects.create(reference=f"ER-{secrets.token_hex(4)}", scope="household",
                                          origin="support", household_name="Family Gone"), settings)
    client = login(family.admin)
    url = reverse("staff:dead_rows")
    client.get(url)  # warm the session
    with django_assert_max_num_queries(12) as counted:
        body = client.get(url).content.decode()
    assert f"Profile sync #{push.pk}" in body and "Rahul" in body and "Family A" in body
    assert f"#{family.child_a.pk} Rahul" in body and f"#{family.household_a.pk} Family A" in body
    assert f"CSV export (job #{job.pk})" in body and "Mem0Unavailable: export failed" in body
    assert f"Erasure {erasure.reference}" in body and "Family Gone" in body
    # More dead rows, the same number of queries.
    for child in (family.child_a, family.child_b):
        kill(Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=child.household, child=child), settings)
    with django_assert_max_num_queries(len(counted.captured_queries)):
        assert "Mia" in client.get(url).content.decode()


def test_support_and_parents_cannot_see_or_retry(family, login, settings):
    push = dead_push(family, settings)
    retry = reverse("staff:dead_row_retry", args=["devices.profilesync", push.pk])
    for user in (family.support, family.parent_a):
        client = login(user)
        assert client.get(reverse("staff:dead_rows")).status_code == 403
        assert client.post(retry).status_code == 403
    assert ProfileSync.objects.get(pk=push.pk).state == ProfileSync.State.DEAD


def test_retry_brings_a_dead_row_back_to_pending_and_sends_it(family, login, settings,
                                                              django_capture_on_commit_callbacks):
    from portal.celery import app

    push = dead_push(family, settings)
    client = login(family.admin)
    url = reverse("staff:dead_row_retry", args=["devices.profilesync", push.pk])
    assert client.get(url).status_code == 405
    before, app.conf.task_default_queue = app.conf.task_default_queue, f"counted-{secrets.token_hex(4)}"
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url)
        sent = _drain(app.conf.task_default_queue)
    finally:
        app.conf.task_default_queue = before
    assert response.status_code == 302 and response["Location"] == reverse("staff:dead_rows")
    assert sent == [("memories.tasks.profile_sync", [push.pk])]
    row = ProfileSync.objects.get(pk=push.pk)
    assert (row.state, row.attempts) == (ProfileSync.State.PENDING, 0)
    assert queue.claim(ProfileSync, push.pk) is not None  # due now
    page = client.get(response["Location"]).content.decode()
    assert f"Profile sync #{push.pk} is queued again" in page and f"Profile sync #{push.pk}</td>" not in page
    assert AuditEvent.objects.filter(action="queue.retry", detail__row_id=push.pk).count() == 1
    again = client.post(url, follow=True).content.decode()  # a second click
    assert "not dead any more" in again
    assert client.post(reverse("staff:dead_row_retry", args=["no.such", 1])).status_code == 404


def test_parents_see_a_dead_push_as_support_told(family, login, settings):
    dead_push(family, settings)
    body = login(family.parent_a).get(reverse("child_detail", args=[family.child_a.pk])).content.decode()
    assert "Failed — support has been told" in body
