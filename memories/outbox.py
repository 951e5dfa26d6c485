"""The outbox: Mem0 writes that must survive Mem0 or a worker being down.

Rows are written inside the caller's transaction; the task is enqueued on commit; the
worker claims a row with a conditional update, so reruns and duplicate deliveries do
nothing twice; the beat sweep re-enqueues rows left pending or failed."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from memories.models import Outbox

State = Outbox.State


def _enqueue(row: Outbox) -> Outbox:
    from memories import tasks

    transaction.on_commit(lambda: tasks.outbox_process.delay(row.pk))
    return row


def profile_push_enqueue(child) -> Outbox:
    return _enqueue(Outbox.objects.create(topic=Outbox.Topic.PROFILE_PUSH, child=child))


def device_reset_enqueue(device) -> Outbox:
    return _enqueue(Outbox.objects.create(topic=Outbox.Topic.DEVICE_RESET, device=device,
                                          child=device.child, namespace=device.namespace))


def claim(pk: int) -> Outbox | None:
    claimed = Outbox.objects.filter(pk=pk, state__in=[State.PENDING, State.FAILED]).update(
        state=State.RUNNING, updated_at=timezone.now()
    )
    return Outbox.objects.select_related("child", "device").filter(pk=pk).first() if claimed else None


def mark_done(row: Outbox) -> None:
    now = timezone.now()
    Outbox.objects.filter(pk=row.pk).update(state=State.DONE, done_at=now, updated_at=now, last_error="")


def mark_failed(row: Outbox, error: Exception) -> None:
    # The class and a short message only: Mem0 errors can quote the text being written.
    message = f"{type(error).__name__}: {str(error)[:200]}"
    Outbox.objects.filter(pk=row.pk).update(state=State.FAILED, attempts=row.attempts + 1,
                                            last_error=message[:500], updated_at=timezone.now())


def stale_ids(model=Outbox) -> list[int]:
    """Rows of a queue table (``Outbox``, ``Conversation``, ``Job``: a ``state`` and an
    ``updated_at``) that a dead worker or a lost message left behind: pending or failed for
    a while, or stuck running. Stuck rows become claimable again."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)
    stuck = Q(state=State.RUNNING, updated_at__lt=cutoff - timedelta(minutes=10))
    waiting = Q(state__in=[State.PENDING, State.FAILED], updated_at__lt=cutoff)
    ids = list(model.objects.filter(stuck | waiting).values_list("pk", flat=True)[:500])
    model.objects.filter(pk__in=ids, state=State.RUNNING).update(state=State.FAILED, updated_at=timezone.now())
    return ids


def sync_state(child) -> dict:
    """What the parent sees: synced at …, pending, or failed — retrying."""
    rows = Outbox.objects.filter(child=child).exclude(state=State.DONE)
    open_row = rows.order_by("-created_at").first()
    if open_row is not None:
        return {"state": open_row.state, "label": open_row.get_state_display(), "attempts": open_row.attempts,
                "since": open_row.created_at}
    done = Outbox.objects.filter(child=child, state=State.DONE).order_by(F("done_at").desc(nulls_last=True)).first()
    return {"state": State.DONE, "label": "Synced", "at": done.done_at if done else None}
