"""Keeping the toys' view of a child in Mem0: the one profile memory in the child's namespace.

Profile changes write a ``devices.ProfileSync`` queue row in the same transaction; the
``profile_sync`` task claims it (``portal.queue``: reruns and duplicate deliveries do
nothing twice) and calls ``child_push``, which is idempotent: it writes the current state,
whatever ran before."""

from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

from devices.consent import NO_PLATFORM_CONSENT, consent_missing
from devices.models import ChildProfile, ProfileSync
from devices.profile import profile_metadata, profile_text
from memories import gateway
from memories.gateway import PROFILE_KIND, ListFilter, Mem0Unavailable
from portal import queue


def _profile_memories(namespace: str):
    return gateway.get().list([namespace], limit=100, flt=ListFilter(kinds=(PROFILE_KIND,))).items


PROFILE_LOCK = 0x50524F46  # "PROF": the first key of the per-child advisory lock


@contextmanager
def _one_push_at_a_time(child_id: int):
    """A PostgreSQL advisory lock per child, at session level on our own connection: two
    pushes for one child (two rows, two workers) run one after the other, so the second
    finds the first one's memory instead of adding another. No transaction is held across
    the Mem0 calls; the lock goes with the connection if the worker dies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [PROFILE_LOCK, child_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [PROFILE_LOCK, child_id])


def child_push(child: ChildProfile) -> None:
    """Exactly one profile memory in the child's namespace, with the current text, however
    many pushes for the child run at once."""
    with _one_push_at_a_time(child.pk):
        current = ChildProfile.objects.filter(pk=child.pk).first()  # what the other push left, read now
        # On the Mem0 Platform the profile is a disclosure to a third party: only with that
        # consent (a consent given later queues a push).
        if current is not None and consent_missing(current) != NO_PLATFORM_CONSENT:
            _push(current)


def _push(child: ChildProfile) -> None:
    gw = gateway.get()
    namespace = child.namespace
    text = profile_text(child)
    existing = _profile_memories(namespace)
    keep = next((m for m in existing if m.metadata.get("child_id") == child.pk), None)
    extra = [m.id for m in existing if keep is None or m.id != keep.id]
    if extra:
        gw.delete(extra)
    if keep is None:
        gw.add(namespace, text, profile_metadata(child))
        return
    if keep.text != text:
        gw.update(keep.id, text=text)
    gw.set_metadata(keep.id, **profile_metadata(child))


def profile_sync_run(row_id: int) -> None:
    """The task's work: claim the row, push, mark it. A failure stays on the row (class
    and our note only: Mem0 errors can quote the text being written); the sweep retries."""
    row = queue.claim(ProfileSync, row_id, related=("child",))
    if row is None:
        return
    try:
        child_push(row.child)
    except Mem0Unavailable as exc:  # our own message: which part of Mem0 is unreachable
        queue.fail(row, exc, str(exc)[:200])
    except Exception as exc:
        queue.fail(row, exc)
    else:
        queue.done(row, done_at=timezone.now())
