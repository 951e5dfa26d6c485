"""Retention on real PostgreSQL and the local Mem0: learned memories dated around the
cut-off (one second older, exactly at, one second younger) — only the older one goes,
through the one erase path, verified, in the activity log; a re-run changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from memories import lifecycle
from memories import services as memory_services
from memories.models import Erasure, MemoryFeedback
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def dated(gw, namespace, text, at, kind="learned"):
    record = gw.add(namespace, text, {"kind": kind})
    gw.set_metadata(record.id, created_at=at.isoformat())
    return record.id


def test_months_before_keeps_the_time_and_clamps_the_day():
    now = timezone.now().replace(year=2026, month=3, day=31, hour=10, minute=0, second=0, microsecond=0)
    assert lifecycle.months_before(now, 1) == now.replace(month=2, day=28)
    assert lifecycle.months_before(now, 18) == now.replace(year=2024, month=9, day=30)


def test_retention_erases_only_what_is_older_than_the_cut_off_and_a_rerun_changes_nothing(family, gw, login):
    now = timezone.now().replace(microsecond=0)
    cutoff = lifecycle.months_before(now, 12)  # the default period
    ns = family.child_a.namespace
    older = dated(gw, ns, "Rahul liked trains (older by a second)", cutoff - timedelta(seconds=1))
    at = dated(gw, ns, "Rahul liked kites (exactly at the cut-off)", cutoff)
    younger = dated(gw, ns, "Rahul likes boats (younger by a second)", cutoff + timedelta(seconds=1))
    added = memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul's cat is Miso")
    gw.set_metadata(added.id, created_at=(cutoff - timedelta(days=400)).isoformat())  # a parent's: kept
    memory_services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=older, rating="POSITIVE")
    family.household_b.retention_months = None  # "until I delete"
    family.household_b.save(update_fields=["retention_months"])
    kept_b = dated(gw, family.child_b.namespace, "Mia liked owls", cutoff - timedelta(days=900))

    erasures = lifecycle.retention_run(now=now)

    assert [(e.state, e.scope, e.origin, e.child_id) for e in erasures] == [
        ("done", "selected", "retention", family.child_a.pk)]
    receipt = erasures[0].receipt
    assert receipt["counts"]["memories"] == 1 and receipt["counts"]["feedback"] == 1
    assert set(receipt["verified_empty"]) >= {"vectors", "history", "feedback", "changes", "usage"}
    assert gw.get(older) is None and gw.history(older) == []
    assert not MemoryFeedback.objects.filter(memory_id=older).exists()
    assert all(gw.get(i) is not None for i in (at, younger, added.id, kept_b))
    assert AuditEvent.objects.filter(household=family.household_a, action="erasure.done",
                                     detail__origin="retention").count() == 1
    assert erasures[0].reference in login(family.parent_a).get("/household/privacy/").content.decode()

    count = Erasure.objects.count()
    assert lifecycle.retention_run(now=now) == []
    assert Erasure.objects.count() == count
    assert all(gw.get(i) is not None for i in (at, younger, added.id, kept_b))


def test_the_period_is_the_households_choice(family, gw):
    now = timezone.now().replace(microsecond=0)
    family.household_a.retention_months = 3
    family.household_a.save(update_fields=["retention_months"])
    ns = family.child_a.namespace
    four_months = dated(gw, ns, "Rahul's old game", lifecycle.months_before(now, 4))
    two_months = dated(gw, ns, "Rahul's new game", lifecycle.months_before(now, 2))
    lifecycle.retention_run(now=now)
    assert gw.get(four_months) is None and gw.get(two_months) is not None


def test_a_retention_erase_does_not_drop_the_toys_new_conversations(family, gw):
    from memories import conversations

    now = timezone.now().replace(microsecond=0)
    old = dated(gw, family.child_a.namespace, "Rahul's very old fact", lifecycle.months_before(now, 13))
    from memories.erasure import erasure_start

    erasure_start(scope="selected", origin="retention", child=family.child_a, memory_ids=[old], enqueue=False)
    conversation, _ = conversations.conversation_accept(
        device=family.device_a, messages=[{"role": "user", "content": "I built a kite"}])
    assert conversation.state == "pending"  # only erasing all of a child's memories drops new words
