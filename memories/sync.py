"""Keeping the toys' view of a child in Mem0: the one profile memory in the child's namespace.

Profile changes write a ``devices.ProfileSync`` queue row in the same transaction; the
``profile_sync`` task claims it with a conditional update (reruns and duplicate deliveries
do nothing twice) and calls ``child_push``, which is idempotent: it writes the current
state, whatever ran before."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from devices.models import ChildProfile, ProfileSync
from devices.profile import profile_metadata, profile_text
from memories import gateway
from memories.gateway import PROFILE_KIND, ListFilter

State = ProfileSync.State


def _profile_memories(namespace: str):
    return gateway.get().list([namespace], limit=100, flt=ListFilter(kinds=(PROFILE_KIND,))).items


def child_push(child: ChildProfile) -> None:
    """Exactly one profile memory in the child's namespace, with the current text."""
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


def claim(pk: int) -> ProfileSync | None:
    claimed = ProfileSync.objects.filter(pk=pk, state__in=[State.PENDING, State.FAILED]).update(
        state=State.RUNNING, updated_at=timezone.now())
    return ProfileSync.objects.select_related("child").filter(pk=pk).first() if claimed else None


def mark_done(row: ProfileSync) -> None:
    now = timezone.now()
    ProfileSync.objects.filter(pk=row.pk).update(state=State.DONE, done_at=now, updated_at=now, last_error="")


def mark_failed(row: ProfileSync, error: Exception) -> None:
    # The class and a short message only: Mem0 errors can quote the text being written.
    message = f"{type(error).__name__}: {str(error)[:200]}"
    ProfileSync.objects.filter(pk=row.pk).update(state=State.FAILED, attempts=row.attempts + 1,
                                                 last_error=message[:500], updated_at=timezone.now())


def stale_ids(model) -> list[int]:
    """Rows of a queue table (a ``state`` and an ``updated_at``) that a dead worker or a lost
    message left behind: pending or failed for a while, or stuck running. Stuck rows become
    claimable again."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)
    stuck = Q(state="running", updated_at__lt=cutoff - timedelta(minutes=10))
    waiting = Q(state__in=["pending", "failed"], updated_at__lt=cutoff)
    ids = list(model.objects.filter(stuck | waiting).values_list("pk", flat=True)[:500])
    model.objects.filter(pk__in=ids, state="running").update(state="failed", updated_at=timezone.now())
    return ids
