"""Celery tasks: they take ids, call a service, and end quietly when the row is gone or
already done.

Queue rows (``portal.queue``: profile pushes, jobs, conversations, erasures) are never
retried by Celery: a failure is recorded on the row with when it is due again, and
``outbox_sweep`` is the one sender of due rows, so a row never has two retry chains.
Tasks without a row retry while Mem0 is unreachable, with Celery's backoff."""

from celery import shared_task
from django.db import transaction

from devices.models import ChildProfile
from devices.selectors import children_with_birthday_today
from devices.services import profile_sync_enqueue
from memories import (
    adoption,
    categories,
    conversations,
    deletion,
    digest,
    erasure,
    lifecycle,
    services,
    sync,
)
from memories.gateway import Mem0Unavailable
from portal import queue

RETRY = {"autoretry_for": (Mem0Unavailable,), "retry_backoff": 2, "retry_backoff_max": 600,
         "retry_jitter": True, "max_retries": 12}


@shared_task
def profile_sync(row_id: int) -> None:
    """A child's profile into their Mem0 namespace (one profile memory, current text)."""
    sync.profile_sync_run(row_id)


@shared_task
def outbox_sweep() -> int:
    """Every minute: send the queue rows that are due (new ones whose message was lost,
    failed ones past their backoff, runs whose worker died) of every registered queue."""
    return queue.sweep_all()


@shared_task
def profiles_push_age_changes() -> int:
    """Daily: a birthday changes the age (and maybe the age group) the toys know."""

    count = 0
    for child in children_with_birthday_today():
        with transaction.atomic():
            profile_sync_enqueue(child)
        count += 1
    return count


@shared_task
def job_run(job_id: int) -> None:
    """A parent's long action (export, large delete) with progress on its Job row."""

    services.job_run(job_id)


@shared_task(**RETRY)
def feedback_mirror(memory_id: str) -> None:
    """A rating saved while Mem0 was down reaches its metadata (🚫 keeps it from toys)."""

    services.feedback_mirror(memory_id=memory_id)


@shared_task
def exports_expire() -> int:
    return services.exports_expire()


@shared_task
def erasure_run(erasure_id: int) -> None:
    """The one erase path: purge every store, verify zero, receipt; then the deletion
    request waiting on it (if any) completes or fails with it."""

    try:
        erasure.erasure_run(erasure_id)
    except Mem0Unavailable:  # recorded on the row: the sweep sends it again when due
        pass
    deletion.request_settle(erasure_id=erasure_id)


@shared_task
def deletion_execute(request_id: int) -> None:
    """A verified, scheduled deletion request: the erase path, then the request's receipt.
    While Mem0 is unreachable the request stays executing: its erasure (a queue row) is
    retried by the sweep and settles the request when it ends."""

    try:
        deletion.request_run(request_id)
    except Mem0Unavailable:
        pass


@shared_task
def conversation_extract(conversation_id: int) -> None:
    """A toy's finished session → Mem0 extraction with the agent's memory prompt; the raw
    messages are deleted once extracted (kept, and retried, while Mem0 or the LLM is down)."""

    conversations.conversation_extract(conversation_id)


@shared_task(**RETRY)
def memories_categorise(child_id: int) -> int:
    """A category for each of the child's memories that has none (the list page shows them
    as uncategorised until then). Idempotent; a deleted child ends quietly."""

    child = ChildProfile.objects.filter(pk=child_id).first()
    return 0 if child is None else categories.memories_categorise(child=child)


@shared_task
def memories_categorise_sweep() -> int:
    """Daily: whatever is still uncategorised (a writer whose categorising failed, older
    data) gets a category; children with nothing missing cost one scan of their memories."""

    count = 0
    for child_id in ChildProfile.objects.values_list("pk", flat=True).iterator():
        memories_categorise.delay(child_id)
        count += 1
    return count


@shared_task(**RETRY)
def toy_memories_adopt(device_id: int, child_id: int, actor_id: int | None) -> int:
    """What a toy remembered under its MAC before the portal, copied into its child's
    memories (the parent chose to adopt them), then erased there. Idempotent."""

    return adoption.adopt_run(device_id, child_id, actor_id)


@shared_task
def retention_sweep() -> int:
    """Daily: learned memories older than each household's retention period, erased
    through the one erase path (verified, receipts, activity log). A re-run finds nothing."""

    return len(lifecycle.retention_run())


@shared_task
def households_sweep() -> dict:
    """Daily: inactive households closed with notice; closed ones erased when due; receipts mailed."""

    return lifecycle.households_sweep()


@shared_task
def digests_send_due() -> int:
    """Hourly: each parent who turned the weekly digest on gets it on Monday from 08:00 in
    their own time zone (one task each)."""

    return digest.digests_send_due()


@shared_task
def digest_send(user_id: int) -> bool:
    """One parent's weekly digest; claimed first, so it is sent at most once a week."""

    return digest.digest_send(user_id)
