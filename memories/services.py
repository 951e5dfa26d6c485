"""What parents do to what the toy remembers: correct, add, rate, categorise, delete, export.

Every function first checks that the memory lives in a namespace of one of the child's
devices (``selectors.memory_for_child``: 404 otherwise), changes Mem0 through the
gateway, then records who did it (``MemoryChange``) and an audit entry (ids and counts,
never memory text). Work that can be large becomes a ``Job`` run by a Celery task."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from devices.selectors import child_namespaces
from memories import categories, exports, gateway, selectors
from memories.gateway import PARENT_KIND, PROFILE_KIND, ListFilter, Mem0Unavailable, MemoryRecord
from memories.models import Job, MemoryChange, MemoryFeedback
from portal import queue
from portal.access import role_of
from portal.audit import audit
from portal.errors import ApplicationError
from portal.queue import enqueue_on_commit

MAX_TEXT = 2000
MAX_REASON = 300
DELETE_INLINE_MAX = 100  # more ids than this are deleted by a job
EXPORT_INLINE_MAX = 2000  # more memories than this are exported by a job
EXPORT_KINDS = (Job.Kind.EXPORT_JSON, Job.Kind.EXPORT_CSV)
FILE_KINDS = (*EXPORT_KINDS, Job.Kind.EXPORT_HOUSEHOLD)  # jobs that leave a file of memory text
Rating = MemoryFeedback.Rating


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ApplicationError("Write what the toy should remember.", field="text")
    if len(text) > MAX_TEXT:
        raise ApplicationError(f"Keep it under {MAX_TEXT} characters (this is {len(text)}).", field="text")
    return text


def _record_change(*, actor, record: MemoryRecord, event: str) -> None:
    MemoryChange.objects.create(memory_id=record.id, namespace=record.namespace, event=event, actor=actor,
                                actor_role=role_of(actor) or "system")


def _category_key(child, category: str | None) -> str | None:
    if not category:
        return None
    if category not in {c.key for c in categories.for_child(child)}:
        raise ApplicationError("Choose one of the listed categories.", field="category")
    return category


def memory_correct(*, actor, child, memory_id: str, text: str) -> MemoryRecord:
    record = selectors.memory_for_child(child, memory_id)
    text = _clean_text(text)
    if record.kind == PROFILE_KIND:
        raise ApplicationError("This is the child's profile: change it on the profile page.", field="text")
    if text == record.text:
        return record
    gw = gateway.get()
    updated = gw.update(record.id, text=text) or record
    if record.metadata.get("category_by") != "parent":
        key = categories.classify([text], categories.for_child(child))[0]
        gw.set_metadata(record.id, category=key)
        updated = gw.get(record.id) or updated
    with transaction.atomic():
        _record_change(actor=actor, record=record, event="UPDATE")
        audit(actor=actor, action="memory.correct", child=child, count=1, memory_id=record.id)
    return updated


def memory_add(*, actor, child, text: str, device=None, category: str | None = None) -> MemoryRecord:
    """Stored verbatim (no LLM) in the child's namespace, kind "added by a parent"; with a
    ``device``, the memory records that toy as where it belongs."""
    text = _clean_text(text)
    if device is not None and device.child_id != child.pk:
        raise ApplicationError("Choose one of this child's toys.", field="device")
    key = _category_key(child, category)
    metadata = {"kind": PARENT_KIND, "category": key or categories.classify([text], categories.for_child(child))[0]}
    if key:
        metadata["category_by"] = "parent"
    if device is not None:
        metadata["device_id"] = str(device.pk)
        if device.agent_id:
            metadata["toy_agent_id"] = str(device.agent_id)
    record = gateway.get().add(child.namespace, text, metadata)
    with transaction.atomic():
        _record_change(actor=actor, record=record, event="ADD")
        audit(actor=actor, action="memory.add", child=child, count=1, memory_id=record.id)
    return record


def memory_rate(*, actor, child, memory_id: str, rating: str | None, reason: str = "") -> MemoryFeedback | None:
    """👍 / 👎 / 🚫 (or None to remove). A 🚫 is marked in Mem0's metadata so no toy gets it.
    Our record is kept first; if Mem0 is down, a retrying task mirrors it later."""
    record = selectors.memory_for_child(child, memory_id)
    reason = (reason or "").strip()
    if rating and rating not in Rating.values:
        raise ApplicationError("Choose 👍, 👎 or 🚫.", field="rating")
    if len(reason) > MAX_REASON:
        raise ApplicationError(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    with transaction.atomic():
        feedback = _feedback_save(actor=actor, child=child, record=record, rating=rating, reason=reason)
        _record_change(actor=actor, record=record, event="RATE")
        audit(actor=actor, action="memory.rate", child=child, count=1, memory_id=record.id, rating=rating or "")
    try:
        feedback_mirror(memory_id=record.id)
    except Mem0Unavailable:
        enqueue_on_commit("memories.tasks.feedback_mirror", record.id)
    return feedback


def _feedback_save(*, actor, child, record, rating, reason) -> MemoryFeedback | None:
    if not rating:
        MemoryFeedback.objects.filter(memory_id=record.id).delete()
        return None
    feedback, _ = MemoryFeedback.objects.update_or_create(
        memory_id=record.id,
        defaults={"namespace": record.namespace, "child": child, "rating": rating, "reason": reason,
                  "rated_by": actor},
    )
    return feedback


RATE_MANY_MAX = 200


def memories_rate(*, actor, child, memory_ids: list[str], rating: str | None) -> int:
    """One rating for several memories of the child (a page's selection); each as
    ``memory_rate`` (checked, recorded, mirrored to Mem0). Returns how many."""
    ids = list(dict.fromkeys(str(i) for i in memory_ids if i))
    if not ids:
        raise ApplicationError("Choose at least one memory.", field="memory_ids")
    if len(ids) > RATE_MANY_MAX:
        raise ApplicationError(f"Rate at most {RATE_MANY_MAX} memories at a time.", field="memory_ids")
    for memory_id in ids:
        memory_rate(actor=actor, child=child, memory_id=memory_id, rating=rating)
    return len(ids)


def feedback_mirror(*, memory_id: str) -> None:
    """Make Mem0 agree with our record of a rating (metadata, and the Platform's feedback)."""
    feedback = MemoryFeedback.objects.filter(memory_id=memory_id).first()
    rating = feedback.rating if feedback else None
    gw = gateway.get()
    gw.set_metadata(memory_id, rating=rating)
    gw.feedback(memory_id, rating, feedback.reason if feedback else "")


def memory_set_category(*, actor, child, memory_id: str, category: str) -> MemoryRecord:
    record = selectors.memory_for_child(child, memory_id)
    key = _category_key(child, category)
    if key is None:
        raise ApplicationError("Choose a category.", field="category")
    gw = gateway.get()
    gw.set_metadata(record.id, category=key, category_by="parent")
    with transaction.atomic():
        _record_change(actor=actor, record=record, event="CATEGORY")
        audit(actor=actor, action="memory.category", child=child, count=1, memory_id=record.id, category=key)
    return gw.get(record.id) or record


# -- deleting -------------------------------------------------------------------------

def delete_grace(grace_seconds: int | None = None) -> timedelta:
    """The undo window of a parent's delete (MEMORY_DELETE_GRACE_SECONDS; 0: none)."""
    seconds = settings.MEMORY_DELETE_GRACE_SECONDS if grace_seconds is None else grace_seconds
    return timedelta(seconds=max(0, seconds))


def memories_delete(*, actor, child, memory_ids: list[str], grace_seconds: int | None = None) -> Job | int:
    """Delete chosen memories of the child. With an undo window (the default) a job that
    runs once the window has passed, unless cancelled (``memories_delete_cancel``); without
    one, at once when few (returns the count), else a job. Every id must be the child's
    (404 otherwise); the profile is changed on its own page, never deleted here."""
    ids = list(dict.fromkeys(str(i) for i in memory_ids if i))
    if not ids:
        raise ApplicationError("Choose at least one memory.", field="memory_ids")
    grace = delete_grace(grace_seconds)
    records = [selectors.memory_for_child(child, memory_id) for memory_id in ids] \
        if len(ids) <= DELETE_INLINE_MAX else []
    if any(r.kind == PROFILE_KIND for r in records):
        raise ApplicationError("The profile is not deleted here: change it on the profile page.",
                               field="memory_ids", code="profile")
    if grace or len(ids) > DELETE_INLINE_MAX:
        return _job_start(actor=actor, child=child, kind=Job.Kind.DELETE_MEMORIES, total=len(ids),
                          params={"memory_ids": ids}, not_before=timezone.now() + grace)
    deleted = delete_ids(ids)
    forget_records(namespaces=list({r.namespace for r in records}), memory_ids=ids)
    exports_discard(child)
    audit(actor=actor, action="memory.delete", child=child, count=deleted)
    return deleted


def memory_ids_matching(child, flt: ListFilter) -> list[str]:
    """The ids of every memory a filter shows (what "delete everything this filter shows"
    deletes), the profile excepted."""
    namespaces = child_namespaces(child)
    return [r.id for r in gateway.get().iter_all(namespaces, flt=flt) if r.kind != PROFILE_KIND] \
        if namespaces else []


def memories_delete_all(*, actor, child, confirmation: str, grace_seconds: int | None = None) -> Job:
    """Everything the toys remember about the child, after the child's name is typed: the
    one erase path (its Erasure is started when the undo window has passed), followed on a
    job page. The profile the parent wrote stays."""
    if (confirmation or "").strip().casefold() != child.name.strip().casefold():
        raise ApplicationError(f"Type {child.name} to confirm.", field="confirmation")
    return _job_start(actor=actor, child=child, kind=Job.Kind.DELETE_MEMORIES, total=0, params={"all": True},
                      not_before=timezone.now() + delete_grace(grace_seconds))


def memories_delete_cancel(*, actor, child, job_id: int) -> int:
    """Undo a delete in its window: the job goes before any worker takes it (the row is
    locked, so a worker claiming it at the same moment finds nothing; once it runs, it is
    too late). Returns how many memories were kept."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(
            pk=job_id, child=child, kind=Job.Kind.DELETE_MEMORIES, state=Job.State.PENDING, attempts=0).first()
        if job is None:
            raise ApplicationError("Too late to undo: the deletion has started.", code="too_late")
        kept = job.total
        job.delete()
        audit(actor=actor, action="memory.delete_cancel", child=child, count=kept, job_id=job_id)
    return kept


def pending_deletes(child) -> list[Job]:
    """The child's deletes still in their undo window (or waiting for a worker)."""
    return list(Job.objects.filter(child=child, kind=Job.Kind.DELETE_MEMORIES, state=Job.State.PENDING,
                                   attempts=0).order_by("next_attempt_at", "id"))


def delete_ids(memory_ids: list[str]) -> int:
    return gateway.get().delete(memory_ids)


def forget_records(*, namespaces: list[str], memory_ids: list[str] | None = None) -> None:
    """Our own rows about deleted memories (all of the namespaces when no ids are given)."""
    from memories.erasure import memory_records  # erasure imports this module

    for queryset in memory_records(namespaces, memory_ids).values():
        queryset.delete()


def exports_discard(child) -> None:
    """Exports of a child hold memory text: a deletion removes them too (and the household's
    whole-household downloads, which hold the child's too)."""
    mine = Q(child=child, kind__in=EXPORT_KINDS) | Q(household_id=child.household_id, kind=Job.Kind.EXPORT_HOUSEHOLD)
    for job in Job.objects.filter(mine).exclude(file_path=""):
        export_file_remove(job)


def export_file_remove(job: Job) -> None:
    exports.export_file_delete(job.file_path)
    Job.objects.filter(pk=job.pk).update(state=Job.State.EXPIRED, file_path="", updated_at=timezone.now())


# -- exporting ------------------------------------------------------------------------

def export_start(*, actor, child, fmt: str) -> Job | None:
    """A job for a large export; None when the export is small enough to stream now
    (audited here; the view streams it). When Mem0 cannot even be counted the export is
    queued as a job that runs once Mem0 is back: the parent's request is not lost."""
    kind = {"json": Job.Kind.EXPORT_JSON, "csv": Job.Kind.EXPORT_CSV}.get(fmt)
    if kind is None:
        raise ApplicationError("Choose JSON or CSV.", field="format")
    try:
        total = _memory_count(child)
    except Mem0Unavailable:
        total = None
    if total is not None and total <= EXPORT_INLINE_MAX:
        export_audit(actor=actor, child=child, fmt=fmt, count=total)
        return None
    return _job_start(actor=actor, child=child, kind=kind, total=total or 0, params={"format": fmt})


def _memory_count(child) -> int:
    namespaces = child_namespaces(child)
    return gateway.get().count(namespaces) if namespaces else 0


def export_audit(*, actor, child, fmt: str, count: int) -> None:
    audit(actor=actor, action=f"export.{fmt}", child=child, count=count)


def export_expires_at() -> datetime:
    return timezone.now() + timedelta(hours=settings.EXPORT_TTL_HOURS)


def _job_start(*, actor, child, kind: str, total: int, params: dict, not_before: datetime | None = None) -> Job:
    """A job, sent to the workers once committed; with ``not_before`` (an undo window) the
    message waits until then (``eta``) and the worker's claim checks the time again."""
    with transaction.atomic():
        job = Job.objects.create(kind=kind, household=child.household, child=child, created_by=actor,
                                 total=total, params=params, **({"next_attempt_at": not_before} if not_before else {}))
        action = "export.start" if kind in EXPORT_KINDS else "memory.delete_start"
        audit(actor=actor, action=action, child=child, count=total, job_id=job.pk, kind=kind)
        later = not_before if not_before and not_before > timezone.now() else None
        enqueue_on_commit("memories.tasks.job_run", job.pk, eta=later)
    return job


# -- jobs (run by memories.tasks.job_run; a portal.queue row) --------------------------

def job_run(job_id: int) -> None:
    """Claim the job and run it. A failure is recorded on the row, class only (errors from
    Mem0 can quote the text being written); the sweep sends it again after its backoff."""
    job = queue.claim(Job, job_id, related=("child", "created_by"))
    if job is None:
        return
    if job.kind == Job.Kind.EXPORT_HOUSEHOLD:
        runner = _household_export_run
    elif job.child is None:  # nothing left to do it for
        queue.done(job)
        return
    else:
        runner = _export_run if job.kind in EXPORT_KINDS else _delete_run
    try:
        runner(job)
    except Exception as exc:
        queue.fail(job, exc)


def household_export_start(*, actor, household) -> Job:
    """Everything the household holds, as one JSON file (GDPR access and portability),
    prepared by a job; the download works for the household's members until it expires."""
    with transaction.atomic():
        job = Job.objects.create(kind=Job.Kind.EXPORT_HOUSEHOLD, household=household, created_by=actor)
        audit(actor=actor, action="export.start", household=household, job_id=job.pk, kind=job.kind)
        enqueue_on_commit("memories.tasks.job_run", job.pk)
    return job


def _household_export_run(job: Job) -> None:
    namespaces = [c.namespace for c in job.household.children.all()]
    total = gateway.get().count(namespaces) if namespaces else 0
    _progress(job, total=total, done=0)
    name = exports.write_household_file(job.household, on_progress=lambda n: _progress(job, done=n))
    queue.done(job, file_path=name, expires_at=export_expires_at(), done=total)
    audit(actor=job.created_by, action="export.household", household=job.household, count=total, job_id=job.pk)


def _progress(job: Job, **values) -> None:
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now(), **values)


def _export_run(job: Job) -> None:
    fmt = job.params.get("format", "json")
    total = _memory_count(job.child)
    _progress(job, total=total, done=0)
    name = exports.write_file(job.child, fmt, on_progress=lambda n: _progress(job, done=n))
    queue.done(job, file_path=name, expires_at=export_expires_at(), done=total)
    export_audit(actor=job.created_by, child=job.child, fmt=fmt, count=total)


def _erases_all(job: Job) -> bool:
    return bool(job.params.get("all")) or "erasure_id" in job.params


def _delete_run(job: Job) -> None:
    if _erases_all(job):
        deleted = _erase_run(job)
    else:
        deleted = _delete_ids_run(job, child_namespaces(job.child))
        exports_discard(job.child)
    with transaction.atomic():
        queue.done(job, done=job.total)
        action = "memory.delete_all" if _erases_all(job) else "memory.delete"
        audit(actor=job.created_by, action=action, child=job.child, count=deleted, job_id=job.pk)


def _delete_ids_run(job: Job, own: list[str]) -> int:
    """Delete the chosen ids in batches; ids of another child's memories are skipped."""
    ids, deleted, gw = job.params["memory_ids"], 0, gateway.get()
    for start in range(0, len(ids), DELETE_INLINE_MAX):
        batch = ids[start : start + DELETE_INLINE_MAX]
        records = [r for r in (gw.get(i) for i in batch) if r is not None and r.namespace in own]
        deleted += delete_ids([r.id for r in records])
        forget_records(namespaces=own, memory_ids=[r.id for r in records])
        _progress(job, done=start + len(batch))
    return deleted


def _erase_run(job: Job) -> int:
    """A parent's "delete everything": the one erase path, its count on the job."""
    from memories.erasure import erasure_run

    total = _memory_count(job.child)
    _progress(job, total=total, done=0)
    job.total = total
    erasure = erasure_run(_job_erasure_id(job))
    if erasure is None or erasure.state != erasure.State.DONE:
        raise RuntimeError("The erasure did not complete; it is retried.")
    Job.objects.filter(pk=job.pk).update(params={**job.params, "reference": erasure.reference})
    return erasure.receipt.get("counts", {}).get("memories", total)


def _job_erasure_id(job: Job) -> int:
    """The job's erasure, started when the job first runs (after its undo window: a
    cancelled delete never bumped the child's memory epoch), once."""
    from memories.erasure import erasure_start

    with transaction.atomic():
        params = Job.objects.select_for_update().values_list("params", flat=True).get(pk=job.pk)
        if "erasure_id" not in params:
            erasure = erasure_start(scope="memories", origin="parent", actor=job.created_by, child=job.child,
                                    enqueue=False)
            params = {**params, "erasure_id": erasure.pk}
            Job.objects.filter(pk=job.pk).update(params=params)
    job.params = params
    return params["erasure_id"]


def exports_expire() -> int:
    """Remove expired export files (and stray ones a crashed worker left)."""
    expired = list(Job.objects.filter(kind__in=FILE_KINDS, expires_at__lt=timezone.now())
                   .exclude(state=Job.State.EXPIRED))
    for job in expired:
        export_file_remove(job)
    exports.export_files_remove_older(timezone.now() - timedelta(hours=settings.EXPORT_TTL_HOURS))
    return len(expired)
