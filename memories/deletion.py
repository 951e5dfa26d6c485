"""Deletion requests: a parent (portal) or support (email, phone) asks to erase one child's
data or a whole household; support verifies who asked, schedules, and a Celery job erases.

    received ──verify──▶ verified ──schedule──▶ scheduled ──execute──▶ executing ──▶ completed
                                                                         │  ▲
                                                                         ▼  │ retry
                                                                        failed

Each transition is a conditional update from the state it leaves, so a double click or a
second agent does nothing twice; an illegal one raises ``ApplicationError``.

The job (``request_run``) is safe to re-run after a crash at any point: the namespaces are
captured when scheduled (and again on each run), the ids of the memories and every count
are written to the request *before* the rows go, so a re-run purges what is left, verifies
with the ids of what went before, and reports the counts of the first run. The request keeps
ids and counts, never memory text; the ids are dropped once the request is completed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from devices.models import ChildProfile, Device, Household
from memories import gateway
from memories.models import (
    Conversation,
    DeletionRequest,
    Job,
    MemoryChange,
    MemoryFeedback,
    MemoryUsage,
)
from portal.access import STAFF_ROLES, Role, role_of
from portal.audit import audit
from portal.errors import ApplicationError

log = logging.getLogger(__name__)
State = DeletionRequest.State
Scope = DeletionRequest.Scope
Channel = DeletionRequest.Channel
OPEN_STATES = (State.RECEIVED, State.VERIFIED, State.SCHEDULED, State.EXECUTING, State.FAILED)
STALE_EXECUTING = timedelta(minutes=10)
MAX_IDENTITY_CHECK = 300


# -- reads ------------------------------------------------------------------------------

def requests_for(user) -> QuerySet[DeletionRequest]:
    """Support and admins see every request; a parent those of their households, those they
    made, and receipts of a household they belonged to (it may be gone)."""
    role = role_of(user)
    qs = DeletionRequest.objects.select_related("household", "requested_by", "verified_by")
    if role in STAFF_ROLES:
        return qs
    if role == Role.PARENT:
        mine = Q(household__memberships__user=user) | Q(requested_by=user) | Q(receipt__member_ids__contains=[user.pk])
        return qs.filter(mine).distinct()
    return qs.none()


def request_for(user, pk) -> DeletionRequest:
    found = requests_for(user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such deletion request.")
    return found


def queue(*, show_all: bool = False) -> QuerySet[DeletionRequest]:
    """Support's queue: the oldest due date first."""
    qs = DeletionRequest.objects.select_related("verified_by").order_by("due_at", "id")
    return qs if show_all else qs.filter(state__in=OPEN_STATES)


# -- creating ---------------------------------------------------------------------------

def due_at_for(received_at):
    return received_at + timedelta(days=settings.DELETION_DUE_DAYS)


def request_create(*, actor, household: Household, scope: str, child: ChildProfile | None = None,
                   channel: str = Channel.PORTAL, identity_check: str = "", received_at=None) -> DeletionRequest:
    """A new request. A parent may only ask for their own household (portal channel);
    support logs email and phone requests, with the identity check when already done."""
    role = role_of(actor)
    if scope not in Scope.values:
        raise ApplicationError("Choose one child or the whole household.", field="scope")
    if channel not in Channel.values:
        raise ApplicationError("Choose how the request arrived.", field="channel")
    if role == Role.PARENT:
        if not household.memberships.filter(user=actor).exists():
            raise Http404("No such household.")
        channel = Channel.PORTAL
        identity_check = f"Signed in to the portal as {actor.email or actor.username}"
    elif role not in STAFF_ROLES:
        raise ApplicationError("Log in to ask for a deletion.")
    elif channel == Channel.PORTAL:
        raise ApplicationError("Support logs requests received by email or phone.", field="channel")
    if scope == Scope.CHILD:
        if child is None or child.household_id != household.pk:
            raise ApplicationError("Choose a child of this household.", field="child")
    else:
        child = None
    received_at = received_at or timezone.now()
    if received_at > timezone.now() + timedelta(minutes=5):
        raise ApplicationError("The date of receipt cannot be in the future.", field="received_at")
    identity_check = (identity_check or "").strip()
    if len(identity_check) > MAX_IDENTITY_CHECK:
        raise ApplicationError(f"Keep it under {MAX_IDENTITY_CHECK} characters.", field="identity_check")
    open_requests = DeletionRequest.objects.filter(household=household, state__in=OPEN_STATES)
    if open_requests.filter(Q(scope=Scope.HOUSEHOLD) | Q(child=child) if child else Q()).exists():
        raise ApplicationError("A deletion request for this is already open.", field="scope",
                               code="duplicate_request")
    with transaction.atomic():
        req = DeletionRequest.objects.create(
            household=household, household_name=household.name, scope=scope, child=child,
            child_name=child.name if child else "", channel=channel, requested_by=actor,
            identity_check=identity_check if role == Role.PARENT else "",
            received_at=received_at, due_at=due_at_for(received_at),
        )
        audit(actor=actor, action="deletion.request", household=household, child=child, request_id=req.pk,
              scope=scope, channel=channel)
    if role in STAFF_ROLES and identity_check:
        req = request_verify(actor=actor, req=req, identity_check=identity_check)
    return req


# -- transitions ------------------------------------------------------------------------

def _move(req: DeletionRequest, sources: tuple[str, ...], target: str, *, extra_q: Q | None = None,
          **values) -> DeletionRequest:
    """A guarded transition: only from ``sources``, and only once."""
    if req.state not in sources:
        raise ApplicationError(
            f"A request that is {req.get_state_display().lower()} cannot become {State(target).label.lower()}.",
            code="illegal_transition",
        )
    rows = DeletionRequest.objects.filter(pk=req.pk, state=req.state)
    if extra_q is not None:
        rows = rows.filter(extra_q)
    now = timezone.now()
    if not rows.update(state=target, updated_at=now, **values):
        raise ApplicationError("Someone else changed this request meanwhile: reload the page.",
                               code="illegal_transition")
    req.refresh_from_db()
    return req


def _audit(req: DeletionRequest, *, actor, action: str, count: int = 0, **detail) -> None:
    child = SimpleNamespace(pk=req.child_id, name=req.child_name, household=None) if req.scope == Scope.CHILD else None
    audit(actor=actor, action=action, household=req.household, child=child, count=count,
          request_id=req.pk, scope=req.scope, **detail)


def request_verify(*, actor, req: DeletionRequest, identity_check: str) -> DeletionRequest:
    """Support confirmed who asked; ``identity_check`` says how (never memory text)."""
    identity_check = (identity_check or "").strip()
    if not identity_check:
        raise ApplicationError("Say how you checked the requester's identity.", field="identity_check")
    if len(identity_check) > MAX_IDENTITY_CHECK:
        raise ApplicationError(f"Keep it under {MAX_IDENTITY_CHECK} characters.", field="identity_check")
    with transaction.atomic():
        req = _move(req, (State.RECEIVED,), State.VERIFIED, identity_check=identity_check, verified_by=actor)
        _audit(req, actor=actor, action="deletion.verify")
    return req


def affected_devices(req: DeletionRequest) -> QuerySet[Device]:
    if req.scope == Scope.HOUSEHOLD:
        return Device.objects.filter(household_id=req.household_id) if req.household_id else Device.objects.none()
    return Device.objects.filter(child_id=req.child_id) if req.child_id else Device.objects.none()


def _namespaces_now(req: DeletionRequest) -> list[str]:
    return sorted(set(req.namespaces) | {d.namespace for d in affected_devices(req)})


def request_schedule(*, actor, req: DeletionRequest) -> DeletionRequest:
    """Fix the namespaces to purge (every device of the child or the household)."""
    with transaction.atomic():
        req = _move(req, (State.VERIFIED,), State.SCHEDULED, namespaces=_namespaces_now(req))
        _audit(req, actor=actor, action="deletion.schedule", namespaces=len(req.namespaces))
    return req


def _enqueue(req: DeletionRequest) -> None:
    from memories import tasks

    tasks.deletion_execute.delay_on_commit(req.pk)


def request_execute(*, actor, req: DeletionRequest) -> DeletionRequest:
    with transaction.atomic():
        req = _move(req, (State.SCHEDULED,), State.EXECUTING)
        _audit(req, actor=actor, action="deletion.execute")
        _enqueue(req)
    return req


def is_stuck(req: DeletionRequest) -> bool:
    return req.state == State.EXECUTING and req.updated_at < timezone.now() - STALE_EXECUTING


def request_retry(*, actor, req: DeletionRequest) -> DeletionRequest:
    """Run the job again: after a failure, or when an executing job went silent (its worker
    died and the message was lost)."""
    with transaction.atomic():
        if req.state == State.EXECUTING:
            if not is_stuck(req):
                raise ApplicationError("The deletion is running; wait for it to finish.", code="illegal_transition")
            req = _move(req, (State.EXECUTING,), State.EXECUTING,
                        extra_q=Q(updated_at__lt=timezone.now() - STALE_EXECUTING))
        else:
            req = _move(req, (State.FAILED,), State.EXECUTING, failure_reason="")
        _audit(req, actor=actor, action="deletion.retry")
        _enqueue(req)
    return req


# -- the job ----------------------------------------------------------------------------

def _save_progress(req: DeletionRequest, progress: dict, **values) -> None:
    DeletionRequest.objects.filter(pk=req.pk).update(receipt={"progress": progress}, updated_at=timezone.now(),
                                                     **values)


def _count_then_delete(req: DeletionRequest, progress: dict, key: str, queryset) -> None:
    """Remember how many rows there were (first run only), then delete them."""
    if key not in progress["counts"]:
        progress["counts"][key] = queryset.count()
        _save_progress(req, progress)
    queryset.delete()


def _known_ids(namespaces: list[str]) -> set[str]:
    ids = set(MemoryChange.objects.filter(namespace__in=namespaces).values_list("memory_id", flat=True))
    ids |= set(MemoryFeedback.objects.filter(namespace__in=namespaces).values_list("memory_id", flat=True))
    ids |= set(MemoryUsage.objects.filter(device__mac__in=namespaces).values_list("memory_id", flat=True))
    return ids


def _purge_mem0(req: DeletionRequest, progress: dict) -> None:
    """Every store of every namespace. Ids are saved before the purge, so history rows of
    memories deleted by a crashed run are still found (and verified) by the next one."""
    gw = gateway.get()
    for namespace in progress["namespaces"]:
        ids = set(progress["ids"].get(namespace, []))
        ids |= {r.id for r in gw.iter_all([namespace])} | _known_ids([namespace])
        if sorted(ids) != progress["ids"].get(namespace):
            progress["ids"][namespace] = sorted(ids)
            progress["memories"].setdefault(namespace, gw.count([namespace]))
            _save_progress(req, progress)
        erased = gw.purge_namespace(namespace, known_ids=ids)
        progress["memories"][namespace] = max(progress["memories"].get(namespace, 0), erased)


def _remove_exports(req: DeletionRequest, progress: dict, jobs: QuerySet[Job]) -> None:
    """Export files hold memory text: the files first, then the rows."""
    files = [j.file_path for j in jobs.exclude(file_path="")]
    if "exports" not in progress["counts"]:
        progress["counts"]["exports"] = len(files)
        _save_progress(req, progress)
    directory = Path(settings.EXPORT_DIR)
    for name in files:
        (directory / name).unlink(missing_ok=True)
    _count_then_delete(req, progress, "jobs", jobs)


def _remove_records(req: DeletionRequest, progress: dict) -> None:
    namespaces = progress["namespaces"]
    devices = Device.objects.filter(mac__in=namespaces)
    _count_then_delete(req, progress, "feedback", MemoryFeedback.objects.filter(
        Q(namespace__in=namespaces) | Q(child_id=req.child_id) if req.child_id else Q(namespace__in=namespaces)))
    _count_then_delete(req, progress, "changes", MemoryChange.objects.filter(namespace__in=namespaces))
    _count_then_delete(req, progress, "usage", MemoryUsage.objects.filter(device__in=devices))
    _count_then_delete(req, progress, "conversations", Conversation.objects.filter(device__in=devices))
    if req.scope == Scope.HOUSEHOLD:
        household = Household.objects.filter(pk=req.household_id).first()
        jobs = Job.objects.filter(household_id=req.household_id) if household else Job.objects.none()
        _remove_exports(req, progress, jobs)
        if household is not None:
            progress.setdefault("member_ids", list(household.memberships.values_list("user_id", flat=True)))
            progress["counts"].setdefault("children", household.children.count())
            progress["counts"].setdefault("devices", household.devices.count())
            progress["counts"].setdefault("members", len(progress["member_ids"]))
            _save_progress(req, progress)
            household.delete()  # members, invitations, children, devices, tokens, outbox rows
    else:
        jobs = Job.objects.filter(child_id=req.child_id) if req.child_id else Job.objects.none()
        _remove_exports(req, progress, jobs)
        child = ChildProfile.objects.filter(pk=req.child_id).first() if req.child_id else None
        if child is not None:
            progress["counts"].setdefault("children", 1)
            progress["counts"].setdefault("devices_unlinked", child.devices.count())
            _save_progress(req, progress)
            child.delete()  # devices stay registered to the household, unlinked


def remaining_traces(namespaces: list[str], ids_by_namespace: dict[str, list[str]]) -> dict[str, int]:
    """Everything left anywhere of the namespaces (zero everywhere means done)."""
    gw, left = gateway.get(), {}
    for namespace in namespaces:
        for store, count in gw.traces(namespace, memory_ids=ids_by_namespace.get(namespace, [])).items():
            left[store] = left.get(store, 0) + count
    left["feedback"] = MemoryFeedback.objects.filter(namespace__in=namespaces).count()
    left["changes"] = MemoryChange.objects.filter(namespace__in=namespaces).count()
    left["usage"] = MemoryUsage.objects.filter(device__mac__in=namespaces).count()
    left["conversations"] = Conversation.objects.filter(device__mac__in=namespaces).count()
    return {store: count for store, count in left.items() if count}


def _fail(req: DeletionRequest, reason: str) -> None:
    with transaction.atomic():
        if DeletionRequest.objects.filter(pk=req.pk, state=State.EXECUTING).update(
                state=State.FAILED, failure_reason=reason[:500], updated_at=timezone.now()):
            req.refresh_from_db()
            _audit(req, actor=None, action="deletion.failed", reason=reason[:200])


def request_run(request_id: int) -> None:
    """The Celery job. Ends quietly unless the request is executing; Mem0 being down is
    raised (the task retries with backoff); any other error marks the request failed."""
    req = DeletionRequest.objects.filter(pk=request_id, state=State.EXECUTING).first()
    if req is None:
        return
    progress = dict(req.receipt.get("progress") or {})
    progress.setdefault("counts", {})
    progress.setdefault("memories", {})
    progress.setdefault("ids", {})
    progress["namespaces"] = _namespaces_now(req)
    progress["runs"] = progress.get("runs", 0) + 1
    _save_progress(req, progress, namespaces=progress["namespaces"])
    try:
        _purge_mem0(req, progress)
        _remove_records(req, progress)
        left = remaining_traces(progress["namespaces"], progress["ids"])
        if left.get("vectors"):  # a toy talked meanwhile: once more
            _purge_mem0(req, progress)
            left = remaining_traces(progress["namespaces"], progress["ids"])
    except gateway.Mem0Unavailable:
        _save_progress(req, progress)
        raise
    except Exception as exc:  # the class only: errors can quote what was being deleted
        log.warning("deletion request %s failed: %s", req.pk, type(exc).__name__)
        _fail(req, f"Unexpected error ({type(exc).__name__}); retry, or ask an engineer.")
        return
    if left:
        _fail(req, "Traces remain after the purge: " + ", ".join(f"{k}={v}" for k, v in sorted(left.items())))
        return
    _complete(req, progress)


def _complete(req: DeletionRequest, progress: dict) -> None:
    now = timezone.now()
    counts = {"memories": sum(progress["memories"].values()), "namespaces": len(progress["namespaces"]),
              **progress["counts"]}
    receipt = {
        "request_id": req.pk,
        "scope": req.scope,
        "household": req.household_name,
        "child": req.child_name,
        "received_at": req.received_at.isoformat(),
        "completed_at": now.isoformat(),
        "counts": counts,
        "verified": "zero memories remain in every store",
        "member_ids": progress.get("member_ids", []),
    }
    with transaction.atomic():
        if not DeletionRequest.objects.filter(pk=req.pk, state=State.EXECUTING).update(
                state=State.COMPLETED, completed_at=now, receipt=receipt, updated_at=now):
            return
        req.refresh_from_db()
        _audit(req, actor=None, action="deletion.completed", count=counts["memories"], counts=counts)


RECEIPT_LABELS = {
    "memories": "Memories erased from Mem0 (vectors, entities, history, messages)",
    "namespaces": "Toy memory spaces purged",
    "feedback": "Ratings",
    "changes": "Change records",
    "usage": "Usage counters",
    "conversations": "Stored conversations",
    "exports": "Export files",
    "jobs": "Export and deletion jobs",
    "children": "Child profiles",
    "devices": "Registered toys",
    "devices_unlinked": "Toys unlinked (still registered)",
    "members": "Household memberships",
}


def receipt_rows(req: DeletionRequest) -> list[tuple[str, int]]:
    counts = (req.receipt or {}).get("counts", {})
    return [(label, counts[key]) for key, label in RECEIPT_LABELS.items() if key in counts]
