"""Reads of memories, always through a child the acting user may see."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Max, QuerySet, Sum
from django.http import Http404

from devices.models import Device
from devices.selectors import child_namespaces, households_for
from memories import gateway
from memories.gateway import PROFILE_KIND, ListFilter, MemoryRecord
from memories.models import Job, MemoryChange, MemoryFeedback, MemoryUsage
from portal.models import AuditEvent

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class MemoryPage:
    items: list[MemoryRecord]
    total: int
    number: int
    pages: int

    @property
    def has_previous(self):
        return self.number > 1

    @property
    def has_next(self):
        return self.number < self.pages


def page_number(raw) -> int:
    try:
        return min(max(1, int(raw)), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def child_memory_page(child, number: int = 1, *, flt: ListFilter | None = None,
                      size: int = PAGE_SIZE) -> MemoryPage:
    """One page of the child's memories."""
    page = gateway.get().list(child_namespaces(child), offset=(number - 1) * size, limit=size, flt=flt)
    pages = max(1, -(-page.total // size))
    if number > pages and page.total:
        return child_memory_page(child, pages, flt=flt, size=size)
    return MemoryPage(items=page.items, total=page.total, number=number, pages=pages)


def memory_for_child(child, memory_id: str) -> MemoryRecord:
    """Mem0's get is not scoped: a memory outside the child's namespaces is not found."""
    record = gateway.get().get(memory_id)
    if record is None or record.namespace not in child_namespaces(child):
        raise Http404("No such memory for this child.")
    return record


@dataclass(frozen=True)
class MemoryItem:
    """A memory as the parent's page shows it."""

    record: MemoryRecord
    category_label: str
    device: str
    feedback: MemoryFeedback | None
    uses: int
    last_used_at: datetime | None


EVENT_LABELS = {"ADD": "Added", "UPDATE": "Changed", "DELETE": "Deleted", "RATE": "Rated",
                "CATEGORY": "Category changed"}


@dataclass(frozen=True)
class TimelineEntry:
    event: str
    at: datetime | None
    by: str
    old_text: str | None = None
    new_text: str | None = None

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self.event, self.event)


UNCATEGORISED = "Uncategorised"  # until the memories_categorise task gives it one


def _category_label(record: MemoryRecord, category_labels: dict[str, str]) -> str:
    return category_labels.get(record.category, record.category) if record.category else UNCATEGORISED


def memory_items(child, records: list[MemoryRecord], category_labels: dict[str, str]) -> list[MemoryItem]:
    """Records with their device, rating reason and usage (two queries for a page)."""
    ids = [r.id for r in records]
    devices = {str(d.pk): str(d) for d in Device.objects.filter(household_id=child.household_id)}
    feedback = {f.memory_id: f for f in MemoryFeedback.objects.filter(child=child, memory_id__in=ids)}
    usage = {
        row["memory_id"]: row
        for row in MemoryUsage.objects.filter(memory_id__in=ids, namespace=child.namespace)
        .values("memory_id").annotate(uses=Sum("count"), last=Max("last_used_at"))
    }
    return [
        MemoryItem(record=r, category_label=_category_label(r, category_labels),
                   device=devices.get(str(r.metadata.get("device_id", "")), ""), feedback=feedback.get(r.id),
                   uses=usage.get(r.id, {}).get("uses", 0), last_used_at=usage.get(r.id, {}).get("last"))
        for r in records
    ]


def child_memory_search(child, query: str, *, flt: ListFilter | None = None,
                        limit: int = PAGE_SIZE) -> list[MemoryRecord]:
    """Semantic search (Mem0's embedding, ranked) inside the child's namespace."""
    return gateway.get().search(child_namespaces(child), query, limit=limit, flt=flt)


def memory_timeline(child, record: MemoryRecord) -> list[TimelineEntry]:
    changes = MemoryChange.objects.filter(memory_id=record.id, namespace=record.namespace).select_related("actor")
    return timeline(record, list(changes), gateway.get().history(record.id))


def timeline(record: MemoryRecord, changes: list[MemoryChange], history: list) -> list[TimelineEntry]:
    """Mem0's ADD/UPDATE/DELETE history with who did it from our records; ratings and
    category changes from ours alone. Unclaimed Mem0 events were the toy's (or the profile sync)."""
    changes = list(changes)
    default = "profile sync" if record.kind == PROFILE_KIND else "the toy"
    entries = []
    for h in history:
        change = _claim_change(changes, h.event, h.at)
        entries.append(TimelineEntry(h.event, h.at, _who(change) if change else default, h.old_text, h.new_text))
    entries += [TimelineEntry(c.event, c.created_at, _who(c)) for c in changes if c.event not in ("ADD", "UPDATE")]
    return sorted(entries, key=lambda e: e.at.timestamp() if e.at else 0)


def _claim_change(changes: list, event: str, at: datetime | None):
    """Our record of the same event closest in time (each claimed once)."""
    candidates = [c for c in changes if c.event == event]
    if not candidates:
        return None
    at = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
    best = min(candidates, key=lambda c: abs((c.created_at - at).total_seconds()) if at else 0)
    changes.remove(best)
    return best


def _who(change: MemoryChange) -> str:
    role = change.actor_role or "someone"
    return f"{role} ({change.actor.email})" if change.actor is not None and role == "parent" else role


def jobs_for(user) -> QuerySet[Job]:
    return Job.objects.filter(household__in=households_for(user)).select_related("child")


def job_for(user, pk) -> Job:
    job = jobs_for(user).filter(pk=pk).first()
    if job is None:
        raise Http404("No such job in your household.")
    return job


def household_audit(user) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(household__in=households_for(user)).select_related("actor")
