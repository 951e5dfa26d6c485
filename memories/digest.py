"""The weekly digest email: for a parent who turned it on (account page; off by default),
what the toys learned about each child in the last seven days and anything flagged (rated
👎 or 🚫 in those days), in the parent's language and time zone, with a signed link that
stops it without logging in.

A beat job runs every hour (``digests_send_due``) and enqueues one task per parent whose
Monday 08:00 has come in their own zone and who got none in the last six days; the task
claims the parent's row first (a conditional update), so a rerun or a second worker sends
nothing twice. The email holds the children's words; logs get ids and counts only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from devices.selectors import children_for
from memories import glance, selectors
from memories.gateway import MemoryRecord
from memories.models import MemoryFeedback
from portal import preferences
from portal.models import Preferences

log = logging.getLogger(__name__)
SEND_HOUR = 8  # Monday 08:00 in the parent's zone
MIN_GAP = timedelta(days=6)
FLAGGED = (MemoryFeedback.Rating.NEGATIVE, MemoryFeedback.Rating.VERY_NEGATIVE)


@dataclass(frozen=True)
class ChildDigest:
    child: object
    learned: list[MemoryRecord]
    learned_total: int
    flagged: list[tuple[MemoryRecord | None, MemoryFeedback]]
    url: str


def _base_url() -> str:
    return getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def due(prefs: Preferences, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(preferences.valid_zone(prefs.time_zone) or settings.TIME_ZONE))
    gap_over = prefs.digest_sent_at is None or now - prefs.digest_sent_at >= MIN_GAP
    return prefs.digest_weekly and gap_over and local.weekday() == 0 and local.hour >= SEND_HOUR


def digests_send_due(*, now: datetime | None = None) -> int:
    """Enqueue the digests that are due; returns how many."""
    now = now or timezone.now()
    rows = Preferences.objects.filter(digest_weekly=True, user__is_active=True).filter(
        Q(digest_sent_at__isnull=True) | Q(digest_sent_at__lt=now - MIN_GAP))
    count = 0
    for prefs in rows.iterator():
        if due(prefs, now):
            current_app.send_task("memories.tasks.digest_send", args=[prefs.user_id])
            count += 1
    return count


def child_digest(child, *, now: datetime) -> ChildDigest:
    seen = glance.child_glance(child, now=now)
    since = now - timedelta(days=7)
    flags = list(MemoryFeedback.objects.filter(child=child, rating__in=FLAGGED, updated_at__gte=since)
                 .order_by("-updated_at")[: glance.SHOWN])
    records = {r.id: r for r in seen.week + seen.blocked}
    for feedback in flags:
        if feedback.memory_id not in records:
            try:
                records[feedback.memory_id] = selectors.memory_for_child(child, feedback.memory_id)
            except Http404:  # deleted since it was rated: listed without its words
                pass
    return ChildDigest(child=child, learned=seen.week, learned_total=seen.week_total,
                       flagged=[(records.get(f.memory_id), f) for f in flags],
                       url=_base_url() + reverse("memories:glance", args=[child.pk]))


def digest_send(user_id: int, *, now: datetime | None = None) -> bool:
    """Claim the parent's week, then send; a failure gives the week back to the next run.
    Returns whether an email went out (nothing to tell: none is sent, the week is used)."""
    now = now or timezone.now()
    prefs = Preferences.objects.select_related("user").filter(user_id=user_id, digest_weekly=True).first()
    if prefs is None or not prefs.user.email or not due(prefs, now):
        return False
    before = prefs.digest_sent_at
    claimed = Preferences.objects.filter(pk=prefs.pk, digest_sent_at=before).update(digest_sent_at=now) == 1
    if not claimed:
        return False
    try:
        message = digest_message(prefs, now=now)
        if message is not None:
            message.send()
    except Exception:
        Preferences.objects.filter(pk=prefs.pk, digest_sent_at=now).update(digest_sent_at=before)
        log.warning("weekly digest for user %s not sent; tried again next hour", user_id)
        raise
    log.info("weekly digest for user %s: %s", user_id, "sent" if message is not None else "nothing to tell")
    return message is not None


def digest_message(prefs: Preferences, *, now: datetime) -> EmailMultiAlternatives | None:
    user = prefs.user
    language = preferences.valid_language(prefs.language) or settings.LANGUAGE_CODE
    zone = preferences.valid_zone(prefs.time_zone) or settings.TIME_ZONE
    with translation.override(language), timezone.override(zone):
        children = [child_digest(child, now=now) for child in children_for(user)]
        if not any(c.learned_total or c.flagged for c in children):
            return None
        unsubscribe = _base_url() + reverse("digest_unsubscribe", args=[preferences.unsubscribe_token(user)])
        context = {"children": children, "unsubscribe_url": unsubscribe, "since": now - timedelta(days=7),
                   "now": now, "account_url": _base_url() + reverse("account")}
        subject = render_to_string("memories/email/digest_subject.txt", context).strip()
        message = EmailMultiAlternatives(subject, render_to_string("memories/email/digest.txt", context),
                                         to=[user.email], headers={
                                             "List-Unsubscribe": f"<{unsubscribe}>",
                                             "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        message.attach_alternative(render_to_string("memories/email/digest.html", context), "text/html")
    return message
