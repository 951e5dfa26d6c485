"""Deletion requests: a parent (portal) or support (email, phone) asks to erase one child's
data or a whole household; support verifies who asked, schedules, and a Celery job erases.

    received ──verify──▶ verified ──schedule──▶ scheduled ──execute──▶ executing ──▶ completed
                                                                         │  ▲
                                                                         ▼  │ retry
                                                                        failed

Each transition is a conditional update from the state it leaves, so a double click or a
second agent does nothing twice; an illegal one raises ``ApplicationError``.

The job (``request_run``) runs the one erase path (``memories.erasure``) for the request:
one ``Erasure`` per request, created on the first run and re-run by a retry, so a crash at
any point is finished by the next run. The request keeps the erasure's receipt (counts, the
stores verified empty, its reference), never memory text.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from devices.models import ChildProfile, Household
from memories.erasure import erasure_run, erasure_start
from memories.erasure import receipt_rows as erasure_receipt_rows
from memories.models import DeletionRequest, Erasure
from portal import queue as queue_rows
from portal.access import STAFF_ROLES, Role, role_of
from portal.audit import audit
from portal.errors import ApplicationError
from portal.models import AuditEvent
from portal.queue import enqueue_on_commit

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


def request_for_staff(user, pk) -> DeletionRequest:
    """One request as support sees it (every household's)."""
    return request_for(user, pk)


def request_events(req: DeletionRequest):
    """The request's own activity (ids and counts, never memory text), newest first."""
    return AuditEvent.objects.filter(detail__request_id=req.pk).select_related("actor")[:50]


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


def _namespaces_now(req: DeletionRequest) -> list[str]:
    """The memory spaces of the child, or of every child of the household."""
    if req.scope == Scope.HOUSEHOLD:
        children = ChildProfile.objects.filter(household_id=req.household_id) if req.household_id else []
    else:
        children = ChildProfile.objects.filter(pk=req.child_id) if req.child_id else []
    return sorted(set(req.namespaces) | {c.namespace for c in children})


def request_schedule(*, actor, req: DeletionRequest) -> DeletionRequest:
    """Fix the namespaces to purge (the child's, or every child's of the household)."""
    with transaction.atomic():
        req = _move(req, (State.VERIFIED,), State.SCHEDULED, namespaces=_namespaces_now(req))
        _audit(req, actor=actor, action="deletion.schedule", namespaces=len(req.namespaces))
    return req


def _enqueue(req: DeletionRequest) -> None:
    enqueue_on_commit("memories.tasks.deletion_execute", req.pk)


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
        if req.erasure_id:  # its erasure runs now, not after its backoff
            queue_rows.retry(Erasure, req.erasure_id)
        _audit(req, actor=actor, action="deletion.retry")
        _enqueue(req)
    return req


# -- the job: the one erase path ----------------------------------------------------------

def _erasure_for(req: DeletionRequest) -> Erasure:
    """The request's erasure, created once (a retry re-runs the same one)."""
    if req.erasure_id:
        return req.erasure
    scope = Erasure.Scope.HOUSEHOLD if req.scope == Scope.HOUSEHOLD else Erasure.Scope.CHILD
    household = Household.objects.filter(pk=req.household_id).first() if req.household_id else None
    child = ChildProfile.objects.filter(pk=req.child_id).first() if req.child_id else None
    with transaction.atomic():
        erasure = erasure_start(scope=scope, origin="support" if req.channel != Channel.PORTAL else "parent",
                                child=child, household=household, namespaces=req.namespaces, enqueue=False)
        DeletionRequest.objects.filter(pk=req.pk, erasure__isnull=True).update(erasure=erasure)
    req.refresh_from_db()
    return req.erasure


def request_run(request_id: int) -> None:
    """The Celery job. Ends quietly unless the request is executing; Mem0 being down is
    raised (the request stays executing: its erasure is retried by the sweep and settles
    it, ``request_settle``); any other failure marks the request failed."""
    req = DeletionRequest.objects.filter(pk=request_id, state=State.EXECUTING).first()
    if req is None:
        return
    erasure = _erasure_for(req)
    if erasure.state != Erasure.State.DONE:  # a live run elsewhere is left alone (its lease)
        erasure = erasure_run(erasure.pk)
    if erasure.state == Erasure.State.DONE:
        _complete(req, erasure)
    elif erasure.state in (Erasure.State.FAILED, Erasure.State.DEAD):
        _fail(req, erasure.last_error or "The erasure failed.")


def request_settle(*, erasure_id: int) -> None:
    """An erasure that ran on its own (the sweep's retry) completes the request still
    executing on it, or fails it once the erasure is dead (while it is retried, the request
    stays executing)."""
    req = DeletionRequest.objects.filter(erasure_id=erasure_id, state=State.EXECUTING).first()
    erasure = Erasure.objects.filter(pk=erasure_id).first()
    if req is None or erasure is None:
        return
    if erasure.state == Erasure.State.DONE:
        _complete(req, erasure)
    elif erasure.state == Erasure.State.DEAD:
        _fail(req, erasure.last_error or "The erasure failed.")


def _fail(req: DeletionRequest, reason: str) -> None:
    with transaction.atomic():
        if DeletionRequest.objects.filter(pk=req.pk, state=State.EXECUTING).update(
                state=State.FAILED, failure_reason=reason[:500], updated_at=timezone.now()):
            req.refresh_from_db()
            _audit(req, actor=None, action="deletion.failed", reason=reason[:200])


def _complete(req: DeletionRequest, erasure: Erasure) -> None:
    now = timezone.now()
    receipt = {**erasure.receipt, "request_id": req.pk, "received_at": req.received_at.isoformat(),
               "member_ids": erasure.member_ids}
    with transaction.atomic():
        if not DeletionRequest.objects.filter(pk=req.pk, state=State.EXECUTING).update(
                state=State.COMPLETED, completed_at=now, receipt=receipt, updated_at=now):
            return
        req.refresh_from_db()
        _audit(req, actor=None, action="deletion.completed", count=receipt["counts"].get("memories", 0),
               erasure=erasure.reference)


def receipt_rows(req: DeletionRequest) -> list[tuple[str, int]]:
    return erasure_receipt_rows(req.receipt or {})
