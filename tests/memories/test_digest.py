"""The weekly digest email: opt-in (off by default), Monday 08:00 in the parent's zone, what
the toys learned and what was flagged, sent at most once a week by a beat job, with a signed
unsubscribe link that works without logging in; memory text never in the logs."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from memories import digest, services
from portal import preferences
from portal.models import Preferences


def next_monday_9(after: datetime) -> datetime:
    day = after.astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    day += timedelta(days=(7 - day.weekday()) % 7)
    return day if day > after else day + timedelta(days=7)


@pytest.fixture
def opted_in(family):
    return Preferences.objects.create(user=family.parent_a, time_zone="UTC", digest_weekly=True)


def _week(family):
    kite = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    storm = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul fears storms")
    services.memory_rate(actor=family.parent_a2, child=family.child_a, memory_id=storm.id, rating="VERY_NEGATIVE")
    return kite, storm


def test_it_is_off_by_default_and_checked_hourly_by_beat(family, gw):
    _week(family)
    assert settings.CELERY_BEAT_SCHEDULE["weekly-digests"]["task"] == "memories.tasks.digests_send_due"
    monday = next_monday_9(timezone.now())
    assert preferences.preferences_for(family.parent_a).digest_weekly is False
    assert digest.digests_send_due(now=monday) == 0
    assert digest.digest_send(family.parent_a.pk, now=monday) is False and not mail.outbox


def test_monday_eight_in_the_parents_own_zone(family, opted_in):
    opted_in.time_zone = "Asia/Kolkata"
    assert digest.due(opted_in, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # Monday 08:30 in India
    assert not digest.due(opted_in, datetime(2026, 3, 1, 23, 0, tzinfo=UTC))  # Monday 04:30 there
    assert not digest.due(opted_in, datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # Tuesday
    opted_in.digest_sent_at = datetime(2026, 3, 2, 2, 40, tzinfo=UTC)
    assert not digest.due(opted_in, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # sent already


def test_the_email_tells_what_was_learned_and_flagged_once_a_week(family, gw, opted_in, caplog):
    _week(family)
    monday = next_monday_9(timezone.now())
    with caplog.at_level(logging.DEBUG):
        assert digest.digest_send(family.parent_a.pk, now=monday) is True
        assert digest.digest_send(family.parent_a.pk, now=monday + timedelta(hours=1)) is False
    (message,) = mail.outbox
    assert message.to == [family.parent_a.email]
    assert "Rahul likes kites" in message.body and "Rahul fears storms" in message.body
    assert "🚫 Never use" in message.body
    html = message.alternatives[0][0]
    assert "Rahul likes kites" in html and "<script" not in html
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "kites" not in logged and "storms" not in logged


def test_a_failed_send_gives_the_week_back(family, gw, opted_in, monkeypatch):
    _week(family)
    monkeypatch.setattr(EmailMultiAlternatives, "send", lambda self, fail_silently=False: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        digest.digest_send(family.parent_a.pk, now=next_monday_9(timezone.now()))
    assert Preferences.objects.get(pk=opted_in.pk).digest_sent_at is None


def test_a_quiet_week_sends_nothing(family, gw, opted_in):
    assert digest.digest_send(family.parent_a.pk, now=next_monday_9(timezone.now())) is False
    assert not mail.outbox


def test_the_unsubscribe_link_works_without_logging_in(family, client, opted_in):
    url = reverse("digest_unsubscribe", args=[preferences.unsubscribe_token(family.parent_a)])
    page = client.get(url)
    assert page.status_code == 200 and Preferences.objects.get(pk=opted_in.pk).digest_weekly  # GET asks only
    assert Client(enforce_csrf_checks=True).post(url).status_code == 200  # one-click: no session, no CSRF token
    assert Preferences.objects.get(pk=opted_in.pk).digest_weekly is False
    token = url.rstrip("/").rsplit("/", 1)[-1]
    forged = url.replace(token, token[:-2] + ("xx" if not token.endswith("xx") else "yy"))
    assert client.get(forged).status_code == 400 and client.post(forged).status_code == 400
