"""Queue rows: work written in the same transaction as the change that needs it, handed to
a Celery worker once that transaction commits. A room may hand work to a task of a higher
room by name (``enqueue_on_commit("memories.tasks.profile_sync", row.pk)``), so apps keep
importing one way.

Every queue (profile pushes, conversations, parents' jobs, erasures) is a model with the
``QueueRow`` fields and goes through the functions here, with one lease, one backoff rule
and one maximum (``QUEUE_*`` settings):

    pending ──claim──▶ running ──done──▶ done
       ▲                  │ fail: attempts + 1, next_attempt_at = now + backoff
       │                  ▼
       └──── sweep ◀── failed ──(QUEUE_MAX_ATTEMPTS reached)──▶ dead ──admin retry──▶ pending

One chain per row: tasks do not retry themselves. A failure records when the row is due
again; the sweep (``sweep``, every minute) is the only sender of due rows, and marks what it
sent (``sent_at``) so the next sweep leaves the row alone while its message is queued. A
row whose message was lost is sent again once a lease has passed; a run whose worker went
silent for a lease counts as a failed attempt.

Error text on a row is the exception's class and a short note of ours, never the
exception's own message (errors can quote children's words)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED, DEAD = "pending", "running", "done", "failed", "dead"
SWEEP_BATCH = 500
ERROR_MAX = 300


def enqueue_on_commit(task_name: str, *args, eta: datetime | None = None) -> None:
    """Send ``task_name(*args)`` to the workers after the current transaction commits (not
    to be run before ``eta`` when given). Tasks are named, so a room hands work to a higher
    room's task without importing it."""
    from portal.celery import app

    transaction.on_commit(lambda: app.send_task(task_name, args=list(args), eta=eta))


class QueueRow(models.Model):
    """The fields every queue row has. A model may redefine ``state`` with its own choices
    (its labels, extra end states) as long as it keeps these five values."""

    class State(models.TextChoices):
        PENDING = PENDING, "Pending"
        RUNNING = RUNNING, "Running"
        DONE = DONE, "Done"
        FAILED = FAILED, "Failed — retrying"
        DEAD = DEAD, "Failed — support has been told"

    state = models.CharField(max_length=10, choices=State.choices, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)  # failed runs
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When a message for the row was last sent (its creator sends one on commit); None once
    # a worker has it.
    sent_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def queue_title(self) -> str:
        """What the row is, for the admins' list of dead rows."""
        return f"{str(self._meta.verbose_name).capitalize()} #{self.pk}"

    def queue_owner(self) -> dict:
        """The household and child the row is about (ids and names), for admins."""
        child = getattr(self, "child", None)
        household = getattr(self, "household", None) or (child.household if child is not None else None)
        return {
            "household_id": household.pk if household is not None else getattr(self, "household_id", None),
            "household": household.name if household is not None else getattr(self, "household_name", ""),
            "child_id": getattr(self, "child_id", None),
            "child": child.name if child is not None else getattr(self, "child_name", ""),
        }


# -- the rules ------------------------------------------------------------------------------

def lease() -> timedelta:
    """How long a run may stay silent (no ``updated_at`` write) before it counts as lost."""
    return timedelta(seconds=settings.QUEUE_LEASE_SECONDS)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: doubling from QUEUE_BACKOFF_SECONDS, capped."""
    seconds = settings.QUEUE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.QUEUE_BACKOFF_MAX_SECONDS))


def error_text(error: BaseException, note: str = "") -> str:
    """The class and our note: never ``str(error)``, which can quote what was being written."""
    text = f"{type(error).__name__}: {note}" if note else type(error).__name__
    return text[:ERROR_MAX]


def _claimable(now) -> Q:
    due = Q(state__in=(PENDING, FAILED), next_attempt_at__lte=now)
    return due | Q(state=RUNNING, updated_at__lt=now - lease())


# -- a worker's side ------------------------------------------------------------------------

def claim(model, pk: int, *, related: tuple[str, ...] = ()):
    """The row, now running, if it was due (pending or failed past its backoff) or running
    but silent past the lease (its worker died: that lost run counts as an attempt); None
    otherwise, so a second delivery or a second worker does nothing."""
    now = timezone.now()
    claimed = model.objects.filter(_claimable(now), pk=pk).update(
        attempts=Case(When(state=RUNNING, then=F("attempts") + 1), default=F("attempts"),
                      output_field=models.PositiveIntegerField()),
        state=RUNNING, sent_at=None, updated_at=now)
    if not claimed:
        return None
    return model.objects.select_related(*related).filter(pk=pk).first()


def done(row, **values) -> bool:
    """Mark a claimed row done (with ``values`` of its own, e.g. a file path)."""
    now = timezone.now()
    return bool(type(row).objects.filter(pk=row.pk, state=RUNNING).update(
        state=DONE, last_error="", sent_at=None, updated_at=now, **values))


def fail(row, error: BaseException, note: str = "", *, only_if: Q | None = None) -> str:
    """Record a failed run of a claimed row: due again after the backoff, or dead once it
    has failed QUEUE_MAX_ATTEMPTS times. Returns the new state ("" if the row was not
    running any more)."""
    now, attempts = timezone.now(), row.attempts + 1
    state = DEAD if attempts >= settings.QUEUE_MAX_ATTEMPTS else FAILED
    rows = type(row).objects.filter(pk=row.pk, state=RUNNING)
    if only_if is not None:
        rows = rows.filter(only_if)
    if not rows.update(state=state, attempts=attempts, last_error=error_text(error, note),
                       next_attempt_at=now + backoff(attempts), sent_at=None, updated_at=now):
        return ""
    level = logging.ERROR if state == DEAD else logging.WARNING
    log.log(level, "%s %s failed (attempt %d, %s): %s", type(row)._meta.label_lower, row.pk, attempts, state,
            type(error).__name__)
    return state


class WorkerLost(Exception):
    """A run went silent for longer than the lease (its worker died or hangs)."""


# -- the sweep ------------------------------------------------------------------------------

def sweep(model, task_name: str) -> int:
    """Runs silent past the lease count as failed; due rows that no queued message covers
    are sent, once (``sent_at`` marks them, so the next sweep does not send them again while
    the message waits; after a lease without a worker taking it, it is sent again).
    Returns how many messages were sent."""
    now = timezone.now()
    silent = Q(updated_at__lt=now - lease())
    for row in model.objects.filter(silent, state=RUNNING)[:SWEEP_BATCH]:
        fail(row, WorkerLost(), "no word from the worker within the lease", only_if=silent)
    unsent = Q(sent_at__isnull=True) | Q(sent_at__lt=now - lease())
    due = Q(state__in=(PENDING, FAILED), next_attempt_at__lte=now) & unsent
    with transaction.atomic():
        ids = list(model.objects.select_for_update(skip_locked=True).filter(due)
                   .order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
        model.objects.filter(pk__in=ids).update(sent_at=now)
        for pk in ids:
            enqueue_on_commit(task_name, pk)
    return len(ids)


def due_ids(model) -> list[int]:
    """Rows the next sweep would send (due, no message queued for them)."""
    now = timezone.now()
    unsent = Q(sent_at__isnull=True) | Q(sent_at__lt=now - lease())
    return list(model.objects.filter(unsent, state__in=(PENDING, FAILED), next_attempt_at__lte=now)
                .values_list("pk", flat=True)[:SWEEP_BATCH])


def retry(model, pk: int, *, task_name: str | None = None, states: tuple[str, ...] = (FAILED, DEAD)) -> bool:
    """A failed or dead row, due now with a fresh set of attempts; sent to ``task_name``
    after commit (without it the caller runs the row itself)."""
    now = timezone.now()
    if not model.objects.filter(pk=pk, state__in=states).update(
            state=PENDING, attempts=0, next_attempt_at=now, sent_at=now, updated_at=now):
        return False
    if task_name:
        enqueue_on_commit(task_name, pk)
    return True


# -- the registry: portal lists every queue without importing the apps ----------------------

@dataclass(frozen=True)
class Queue:
    model: type
    task_name: str
    related: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.model._meta.label_lower  # "devices.profilesync"

    @property
    def title(self) -> str:
        return str(self.model._meta.verbose_name_plural).capitalize()


_QUEUES: dict[str, Queue] = {}


def register(model, task_name: str, *, related: tuple[str, ...] = ()) -> None:
    """Called from an app's ``AppConfig.ready``: the sweep and the admins' page cover it."""
    queue = Queue(model, task_name, tuple(related))
    _QUEUES[queue.key] = queue


def queues() -> list[Queue]:
    return sorted(_QUEUES.values(), key=lambda q: q.key)


def queue_for(key: str) -> Queue | None:
    return _QUEUES.get(key)


def sweep_all() -> int:
    return sum(sweep(q.model, q.task_name) for q in queues())


# -- dead rows (the admins' page) -----------------------------------------------------------

@dataclass(frozen=True)
class DeadRow:
    queue: Queue
    pk: int
    title: str
    owner: dict
    attempts: int
    last_error: str
    since: object


def dead_rows(limit: int = 200) -> list[DeadRow]:
    """Dead rows of every queue, most recent first (one query per queue)."""
    found = []
    for queue in queues():
        rows = queue.model.objects.select_related(*queue.related).filter(state=DEAD).order_by("-updated_at")
        found += [DeadRow(queue, row.pk, row.queue_title(), row.queue_owner(), row.attempts, row.last_error,
                          row.updated_at) for row in rows[:limit]]
    return sorted(found, key=lambda r: r.since, reverse=True)


def dead_row_retry(*, actor, key: str, pk: int) -> Queue:
    """An admin sends a dead row again (pending, a fresh set of attempts)."""
    from portal.audit import audit
    from portal.errors import ApplicationError

    queue = queue_for(key)
    if queue is None:
        raise ApplicationError("No such queue.", field="queue")
    with transaction.atomic():
        if not retry(queue.model, pk, task_name=queue.task_name, states=(DEAD,)):
            raise ApplicationError("That row is not dead any more (already retried or done).", field="pk")
        audit(actor=actor, action="queue.retry", queue=key, row_id=pk)
    return queue
