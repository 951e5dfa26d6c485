"""The one erase path. Every deletion of a child's memories runs through ``erasure_run``:
a parent's "delete everything", a support desk request, a child, household or account
deleted (in the portal or the Django admin), the agent playground, and retention.

    erasure_start ──▶ Erasure row (reference, scope) ──▶ task ──▶ erasure_run
        1. the children's memory epoch is bumped: a conversation accepted before can no
           longer add anything, one arriving meanwhile is dropped;
        2. ids and counts are captured (saved before anything goes, so a re-run after a
           crash verifies what the first run removed);
        3. every store of every namespace is purged: Mem0's vectors, entities, history and
           raw messages (the gateway), then our own rows: conversations, ratings, change
           records, usage counters, export files and jobs, queued profile pushes;
        4. the child, household or account rows go (only here: ``devices.guards``);
        5. the touched tables are vacuumed, then each store is counted again, and the
           receipt lists exactly the stores verified empty, with the date and reference.

An erasure is a ``portal.queue`` row: a run is safe to repeat at any point; a failure is
recorded with the class name only (errors can quote children's words) and the sweep runs it
again after its backoff (``dead`` after the last attempt: admins see it). Mem0 being down is
recorded, then raised to the caller.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from devices.guards import erase_allowed
from devices.models import ChildProfile, Device, Household, Membership, ProfileSync
from devices.services import profile_sync_enqueue
from memories import gateway, services
from memories.models import Conversation, Erasure, Job, MemoryChange, MemoryFeedback, MemoryUsage
from portal import queue
from portal.audit import audit
from portal.errors import ApplicationError
from portal.models import AuditEvent
from portal.queue import enqueue_on_commit

log = logging.getLogger(__name__)
Scope = Erasure.Scope
State = Erasure.State
OPEN = (State.PENDING, State.RUNNING, State.FAILED, State.DEAD)  # not erased yet: toys learn nothing
_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L: read aloud to support

# What the receipt says was verified, in the parent's words.
STORE_LABELS = {  # what a receipt says, in the parent's words
    "vectors": _("The memories themselves (what the toy searches)"),
    "entities": _("Names and things linked to memories"),
    "history": _("Earlier versions of memories"),
    "messages": _("Words from conversations kept while learning"),
    "conversations": _("Conversations waiting to be learned from"),
    "feedback": _("Your ratings (👍/👎/🚫) and their reasons"),
    "changes": _("Records of who changed what"),
    "usage": _("Records of when the toy used a memory"),
    "exports": _("Downloaded copies (export files)"),
    "profile_syncs": _("Profile updates waiting to reach the toy"),
}
OUR_STORES = ("conversations", "feedback", "changes", "usage", "exports", "profile_syncs")
# What else went with the scope (not stores: the rows themselves).
OWNER_LABELS = {
    "children": _("Child profiles"),
    "toys": _("Registered toys"),
    "toys_unlinked": _("Toys unlinked (still registered)"),
    "members": _("Household memberships"),
    "memberships": _("Memberships of the account"),
}


def new_reference() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"ER-{body[:4]}-{body[4:]}"


# -- reads ---------------------------------------------------------------------------------

def erasures_for(user):
    """Erasures of the user's households, and of households they belonged to (now gone)."""
    if not user.is_authenticated:
        return Erasure.objects.none()
    mine = Q(household__memberships__user=user) | Q(member_ids__contains=[user.pk]) | Q(user=user)
    return Erasure.objects.filter(mine).exclude(scope=Scope.NAMESPACE).distinct().order_by("-created_at")


def erasure_for(user, reference: str) -> Erasure:
    found = erasures_for(user).filter(reference=(reference or "").upper()).first()
    if found is None:
        raise Http404("No such erasure.")
    return found


# -- starting -----------------------------------------------------------------------------

def erasure_start(*, scope: str, origin: str, actor=None, child: ChildProfile | None = None,
                  household: Household | None = None, user=None, namespaces: Iterable[str] = (),
                  memory_ids: Iterable[str] = (), enqueue: bool = True) -> Erasure:
    """Record an erasure and queue it (``enqueue=False``: the caller runs it now).

    The children's epoch is bumped in the same transaction, so from the commit on no
    conversation accepted earlier can add to what is being erased."""
    if scope not in Scope.values:
        raise ApplicationError("Unknown erasure scope.", field="scope")
    if scope in (Scope.MEMORIES, Scope.CHILD) and child is None:
        raise ApplicationError("Choose a child.", field="child")
    if scope == Scope.HOUSEHOLD and household is None:
        raise ApplicationError("Choose a household.", field="household")
    if scope == Scope.ACCOUNT and user is None:
        raise ApplicationError("Choose an account.", field="user")
    memory_ids = sorted(set(memory_ids))
    if scope == Scope.SELECTED:  # exactly these memories of the child (retention): no epoch bump
        if child is None or not memory_ids:
            raise ApplicationError("Choose a child and the memories to erase.", field="memory_ids")
        namespaces = [child.namespace]
    household = household or (child.household if child is not None else None)
    with transaction.atomic():
        erasure = Erasure.objects.create(
            reference=new_reference(), scope=scope, origin=origin, child=child, household=household,
            child_name=child.name if child else "", household_name=household.name if household else "",
            user=user, requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            namespaces=sorted(set(namespaces)), memory_ids=memory_ids,
            member_ids=list(household.memberships.values_list("user_id", flat=True)) if household else [],
        )
        ChildProfile.objects.filter(pk__in=[c.pk for c in _children(erasure)]).update(
            memory_epoch=F("memory_epoch") + 1)
        audit(actor=actor, action="erasure.start", household=household, child=child, erasure=erasure.reference,
              scope=scope, origin=origin)
        if enqueue:
            enqueue_on_commit("memories.tasks.erasure_run", erasure.pk)
    return erasure


def child_is_erasing(child: ChildProfile) -> bool:
    """An erasure of this child's memories is queued or running (new words are dropped)."""
    return Erasure.objects.filter(state__in=OPEN).exclude(scope=Scope.SELECTED).filter(
        Q(child=child) | Q(household_id=child.household_id, scope=Scope.HOUSEHOLD)).exists()


# -- what an erasure covers ------------------------------------------------------------------

def _sole_households(user) -> list[Household]:
    """Households in which ``user`` is the only member: closing the account closes them."""
    households = Household.objects.filter(memberships__user=user)
    return [h for h in households if h.memberships.exclude(user=user).count() == 0]


def _children(erasure: Erasure) -> list[ChildProfile]:
    if erasure.scope in (Scope.MEMORIES, Scope.CHILD):
        return [erasure.child] if erasure.child_id else []
    if erasure.scope == Scope.HOUSEHOLD:
        return list(ChildProfile.objects.filter(household_id=erasure.household_id)) if erasure.household_id else []
    if erasure.scope == Scope.ACCOUNT and erasure.user_id:
        return list(ChildProfile.objects.filter(household__in=_sole_households(erasure.user)))
    return []


@dataclass
class _Plan:
    children: list[ChildProfile]
    namespaces: list[str]
    child_ids: list[int] = field(default_factory=list)


def _plan(erasure: Erasure) -> _Plan:
    children = _children(erasure)
    progress = erasure.progress or {}
    namespaces = set(erasure.namespaces) | set(progress.get("namespaces", [])) | {c.namespace for c in children}
    child_ids = sorted(set(progress.get("child_ids", [])) | {c.pk for c in children})
    return _Plan(children=children, namespaces=sorted(namespaces), child_ids=child_ids)


def _known_ids(namespaces: list[str]) -> set[str]:
    ids = set(MemoryChange.objects.filter(namespace__in=namespaces).values_list("memory_id", flat=True))
    ids |= set(MemoryFeedback.objects.filter(namespace__in=namespaces).values_list("memory_id", flat=True))
    ids |= set(MemoryUsage.objects.filter(namespace__in=namespaces).values_list("memory_id", flat=True))
    return ids


def _households(plan: _Plan, erasure: Erasure) -> set[int]:
    """The households whose whole-household downloads hold the erased children's words."""
    ids = {c.household_id for c in plan.children} | set(
        ChildProfile.objects.filter(pk__in=plan.child_ids).values_list("household_id", flat=True))
    return ids | ({erasure.household_id} if erasure.household_id else set())


def _our_rows(plan: _Plan, erasure: Erasure) -> dict:
    """Our own tables' rows about the erased memories, by store."""
    ns, kids = plan.namespaces, plan.child_ids
    rows = {
        "conversations": Conversation.objects.filter(child_id__in=kids),
        "feedback": MemoryFeedback.objects.filter(Q(namespace__in=ns) | Q(child_id__in=kids)),
        "changes": MemoryChange.objects.filter(namespace__in=ns),
        "usage": MemoryUsage.objects.filter(namespace__in=ns),
        "exports": Job.objects.filter(Q(child_id__in=kids, kind__in=(Job.Kind.EXPORT_JSON, Job.Kind.EXPORT_CSV))
                                      | Q(household_id__in=_households(plan, erasure), kind=Job.Kind.EXPORT_HOUSEHOLD)),
    }
    if erasure.scope != Scope.MEMORIES:  # the profile itself goes: so do its queued pushes
        rows["profile_syncs"] = ProfileSync.objects.filter(child_id__in=kids)
    return rows


# -- the run --------------------------------------------------------------------------------

def _save(erasure: Erasure, **values) -> None:
    Erasure.objects.filter(pk=erasure.pk).update(progress=erasure.progress, updated_at=timezone.now(), **values)


def erasure_run(erasure_id: int) -> Erasure | None:
    """Run (or finish) an erasure. Returns it, done or failed; its current state when it
    is not due (or running elsewhere: every step writes ``updated_at``, so a live run is
    never taken over before the lease runs out)."""
    erasure = queue.claim(Erasure, erasure_id, related=("child", "household", "user"))
    if erasure is None:
        return Erasure.objects.filter(pk=erasure_id).first()
    try:
        _run(erasure)
    except gateway.Mem0Unavailable as exc:
        queue.fail(erasure, exc, "the memory store is unreachable.")
        raise
    except TracesRemain as exc:  # counts per store, no words
        queue.fail(erasure, exc, f"traces remain after the purge: {exc}")
    except Exception as exc:  # the class only: errors can quote what was being deleted
        queue.fail(erasure, exc, "unexpected error; it is retried, or ask an engineer.")
    return Erasure.objects.get(pk=erasure.pk)


def _run(erasure: Erasure) -> None:
    if erasure.scope == Scope.SELECTED:
        _run_selected(erasure)
        return
    gw = gateway.get()
    plan = _plan(erasure)
    progress = erasure.progress = dict(erasure.progress or {})
    progress["namespaces"], progress["child_ids"] = plan.namespaces, plan.child_ids
    progress["runs"] = progress.get("runs", 0) + 1
    ids = progress.setdefault("ids", {})
    counts = progress.setdefault("counts", {})
    # 1. Ids and counts first: a re-run after a crash still verifies what went before.
    for namespace in plan.namespaces:
        found = set(ids.get(namespace, [])) | {r.id for r in gw.iter_all([namespace])} | _known_ids([namespace])
        ids[namespace] = sorted(found)
        counts.setdefault(f"memories:{namespace}", gw.count([namespace]))
    for store, rows in _our_rows(plan, erasure).items():
        counts.setdefault(store, rows.count())
    _save(erasure, namespaces=plan.namespaces)
    # 2. Every Mem0 store, then our rows.
    _purge(gw, plan, ids)
    _remove_rows(plan, erasure)
    # 3. The people and things that go with the scope.
    _remove_owners(erasure, plan, counts)
    _save(erasure)
    # 4. No deleted words left in free space or planner samples, then count again.
    gw.vacuum()
    _vacuum_ours()
    left = remaining(plan, erasure, ids)
    if left.get("vectors"):  # a toy talked meanwhile: once more
        _purge(gw, plan, ids)
        left = remaining(plan, erasure, ids)
    if any(left.values()):
        raise TracesRemain(", ".join(f"{k}={v}" for k, v in sorted(left.items()) if v))
    _complete(erasure, verified=sorted(left))


class TracesRemain(Exception):
    """Something of the erased memories was still found after the purge."""


def memory_records(namespaces: list[str], memory_ids: list[str] | None = None) -> dict:
    """Our rows about memories of the namespaces (only ``memory_ids`` when given), by store:
    ratings, change records, usage counts. One definition for every delete."""
    rows = {
        "feedback": MemoryFeedback.objects.filter(namespace__in=namespaces),
        "changes": MemoryChange.objects.filter(namespace__in=namespaces),
        "usage": MemoryUsage.objects.filter(namespace__in=namespaces),
    }
    if memory_ids is not None:
        rows = {store: queryset.filter(memory_id__in=memory_ids) for store, queryset in rows.items()}
    return rows


def _selected_rows(namespace: str, ids: list[str]) -> dict:
    return memory_records([namespace], ids)


def _run_selected(erasure: Erasure) -> None:
    """Scope "selected": exactly ``memory_ids`` of the child's namespace (an id found in
    another namespace is left alone), in every store that keeps something of them: the
    vectors with their entity links and history (``gw.delete``), and our ratings, change
    records and usage counts. Verified per id; the child's conversations, exports and
    profile are not touched."""
    gw = gateway.get()
    namespace = erasure.namespaces[0]
    progress = erasure.progress = dict(erasure.progress or {})
    progress["runs"] = progress.get("runs", 0) + 1
    counts = progress.setdefault("counts", {})
    ids = [i for i in erasure.memory_ids if (r := gw.get(i)) is None or r.namespace == namespace]
    if f"memories:{namespace}" not in counts:  # the first run counts; a re-run verifies
        counts[f"memories:{namespace}"] = sum(1 for i in ids if gw.get(i) is not None)
        for store, rows in _selected_rows(namespace, ids).items():
            counts[store] = rows.count()
    _save(erasure)
    gw.delete(ids)
    for rows in _selected_rows(namespace, ids).values():
        rows.delete()
    gw.vacuum()
    left = {"vectors": sum(1 for i in ids if gw.get(i) is not None),
            "history": sum(len(gw.history(i)) for i in ids)}
    left |= {store: rows.count() for store, rows in _selected_rows(namespace, ids).items()}
    if any(left.values()):
        raise TracesRemain(", ".join(f"{k}={v}" for k, v in sorted(left.items()) if v))
    _complete(erasure, verified=sorted(left))


def _purge(gw, plan: _Plan, ids: dict) -> None:
    for namespace in plan.namespaces:
        gw.purge_namespace(namespace, known_ids=ids.get(namespace, []))


def _remove_rows(plan: _Plan, erasure: Erasure) -> None:
    rows = _our_rows(plan, erasure)
    for job in rows["exports"].exclude(file_path=""):
        services.export_file_remove(job)  # the file (memory text) first, then the row
    for queryset in rows.values():
        queryset.delete()


def _remove_owners(erasure: Erasure, plan: _Plan, counts: dict) -> None:
    """Children, households and accounts go only here, after their memories."""
    with transaction.atomic(), erase_allowed():
        # The trail keeps ids and counts, never the erased child's name.
        AuditEvent.objects.filter(child_id__in=plan.child_ids).exclude(child_name="").update(child_name="")
        if erasure.scope == Scope.CHILD and erasure.child_id:
            counts.setdefault("children", 1)
            counts.setdefault("toys_unlinked", Device.objects.filter(child_id=erasure.child_id).count())
            ChildProfile.objects.filter(pk=erasure.child_id).delete()
        elif erasure.scope == Scope.HOUSEHOLD and erasure.household_id:
            _delete_household(erasure.household_id, counts)
        elif erasure.scope == Scope.ACCOUNT and erasure.user_id:
            for household in _sole_households(erasure.user):
                _delete_household(household.pk, counts)
            counts.setdefault("memberships", Membership.objects.filter(user_id=erasure.user_id).count())
            get_user_model().objects.filter(pk=erasure.user_id).delete()


def _delete_household(household_id: int, counts: dict) -> None:
    household = Household.objects.filter(pk=household_id).first()
    if household is None:
        return
    counts.setdefault("children", household.children.count())
    counts.setdefault("toys", household.devices.count())
    counts.setdefault("members", household.memberships.count())
    Job.objects.filter(household=household).delete()
    household.devices.all().delete()  # their tokens with them
    household.children.all().delete()
    household.delete()  # memberships, invitations


def _vacuum_ours() -> None:
    """Our tables that held children's words (conversations, rating reasons): deleted rows
    leave the heap now, not at the next autovacuum. A separate autocommit connection, as
    VACUUM cannot run inside a transaction."""

    tables = [Conversation._meta.db_table, MemoryFeedback._meta.db_table]
    params = {k: v for k, v in connection.get_connection_params().items() if k not in ("cursor_factory", "context")}
    try:
        with psycopg.connect(**params, autocommit=True) as conn:
            for table in tables:
                conn.execute(f'VACUUM (ANALYZE) "{table}"')
    except psycopg.Error as exc:  # not the tables' owner: PostgreSQL's autovacuum will do it
        log.warning("vacuum after an erasure skipped: %s", type(exc).__name__)


def remaining(plan: _Plan, erasure: Erasure, ids: dict) -> dict[str, int]:
    """Every store, counted again: zero everywhere means erased."""
    gw, left = gateway.get(), {}
    for namespace in plan.namespaces:
        for store, count in gw.traces(namespace, memory_ids=ids.get(namespace, [])).items():
            left[store] = left.get(store, 0) + count
    for store, rows in _our_rows(plan, erasure).items():
        left[store] = rows.count()
    return left


def _complete(erasure: Erasure, *, verified: list[str]) -> None:
    now = timezone.now()
    counts = dict(erasure.progress.get("counts", {}))
    memories = sum(v for k, v in counts.items() if k.startswith("memories:"))
    counts = {k: v for k, v in counts.items() if not k.startswith("memories:")}
    receipt = {
        "reference": erasure.reference,
        "scope": erasure.scope,
        "origin": erasure.origin,
        "household": erasure.household_name,
        "child": erasure.child_name,
        "requested_at": erasure.created_at.isoformat(),
        "completed_at": now.isoformat(),
        "counts": {"memories": memories, **counts},
        "verified_empty": verified,
    }
    with transaction.atomic():
        if not Erasure.objects.filter(pk=erasure.pk, state=State.RUNNING).update(
                state=State.DONE, receipt=receipt, progress={}, completed_at=now, updated_at=now, last_error=""):
            return
        household = Household.objects.filter(pk=erasure.household_id).first() if erasure.household_id else None
        audit(actor=None, action="erasure.done", household=household, count=memories,
              erasure=erasure.reference, scope=erasure.scope, origin=erasure.origin)
        # Touching the child tells every process's toy lookups that memory is on again.
        ChildProfile.objects.filter(pk__in=erasure.progress.get("child_ids", [])).update(updated_at=now)
        child = ChildProfile.objects.filter(pk=erasure.child_id).first() if erasure.child_id else None
        if erasure.scope == Scope.MEMORIES and child is not None:
            profile_sync_enqueue(child)  # the toy keeps the profile the parent wrote


def receipt_rows(receipt: dict) -> list[tuple[str, int]]:
    """(store in the parent's words, items erased) for each store verified empty, then
    the profiles, toys and memberships that went with it."""
    counts = receipt.get("counts", {})
    rows = [(STORE_LABELS.get(store, store), counts.get("memories", 0) if store == "vectors" else counts.get(store, 0))
            for store in receipt.get("verified_empty", [])]
    return rows + [(label, counts[key]) for key, label in OWNER_LABELS.items() if key in counts]
