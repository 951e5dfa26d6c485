"""Reads of memories, always through a child the acting user may see."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from devices.selectors import child_namespaces, households_for
from memories import gateway
from memories.gateway import PROFILE_KIND, ListFilter, MemoryRecord
from memories.models import Conversation, Job, MemoryChange, MemoryFeedback, MemoryUsage
from portal.models import AuditEvent

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


SHALLOW_PAGES = 20  # page numbers in the URL up to here; further pages go by keyset cursor
COUNT_LIMIT = 1_000  # a filtered total is counted up to here ("more than 1,000" past it)


@dataclass(frozen=True)
class MemoryPage:
    """One page of the list. ``number`` is None on a keyset page (``?after=``); ``pages``
    is None when the total was not counted to the end."""

    items: list[MemoryRecord]
    total: int
    number: int | None
    pages: int | None
    next_number: int | None = None
    next_after: str | None = None
    total_exact: bool = True  # False: there are more than ``total - 1`` (a filtered count stopped)

    @property
    def has_previous(self):
        return self.number is None or self.number > 1

    @property
    def has_next(self):
        return bool(self.next_number or self.next_after)


def page_number(raw) -> int:
    try:
        return min(max(1, int(raw)), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def child_memory_page(child, number: int = 1, *, after: str | None = None, flt: ListFilter | None = None,
                      size: int = PAGE_SIZE) -> MemoryPage:
    """One page of the child's memories, newest first: by number (``?page=``, for the first
    ``SHALLOW_PAGES``) or after a cursor (``?after=``, any depth at the cost of page 1).
    The total: exact without filters (one row the store keeps), counted up to ``COUNT_LIMIT``
    with them."""
    try:
        page = gateway.get().list(child_namespaces(child), offset=0 if after else (number - 1) * size,
                                  limit=size + 1, flt=flt, after=after, count_limit=COUNT_LIMIT)
    except ValueError:  # not a cursor of ours: the first page
        return child_memory_page(child, 1, flt=flt, size=size)
    items, more = page.items[:size], len(page.items) > size
    pages = None if page.capped else max(1, -(-page.total // size))
    if not after and pages is not None and number > pages and page.total:
        return child_memory_page(child, pages, flt=flt, size=size)
    if not after and not items and number > 1:  # past the end of an uncounted list
        return child_memory_page(child, 1, flt=flt, size=size)
    shallow = not after and number < SHALLOW_PAGES
    return MemoryPage(items=items, total=page.total, number=None if after else number, pages=pages,
                      next_number=number + 1 if more and shallow else None,
                      next_after=items[-1].cursor if more and not shallow else None, total_exact=not page.capped)


def memory_for_child(child, memory_id: str) -> MemoryRecord:
    """Mem0's get is not scoped: a memory outside the child's namespaces is not found."""
    record = gateway.get().get(memory_id)
    if record is None or record.namespace not in child_namespaces(child):
        raise Http404("No such memory for this child.")
    return record


@dataclass(frozen=True)
class Session:
    """Where a learned memory came from: the toy session (toy, when) and, while the
    conversation still holds its messages, the child's sentence it was most likely
    learned from."""

    toy: str
    at: datetime
    sentence: str = ""


@dataclass(frozen=True)
class MemoryItem:
    """A memory as the parent's page shows it."""

    record: MemoryRecord
    category_label: str | Promise
    device: str
    feedback: MemoryFeedback | None
    uses: int
    last_used_at: datetime | None
    session: Session | None = None

    @property
    def closeness(self) -> str:
        """A search match's closeness in words ("" outside a search)."""
        return closeness(self.record.score)


EVENT_LABELS = {"ADD": _("Added"), "UPDATE": _("Changed"), "DELETE": _("Deleted"), "RATE": _("Rated"),
                "CATEGORY": _("Category changed")}


@dataclass(frozen=True)
class TimelineEntry:
    event: str
    at: datetime | None
    by: str
    old_text: str | None = None
    new_text: str | None = None

    @property
    def label(self) -> str | Promise:
        return EVENT_LABELS.get(self.event, self.event)


UNCATEGORISED = _("Uncategorised")  # until the memories_categorise task gives it one


def _category_label(record: MemoryRecord, category_labels: dict[str, str | Promise]) -> str | Promise:
    return category_labels.get(record.category, record.category) if record.category else UNCATEGORISED


def memory_items(child, records: list[MemoryRecord], category_labels: dict[str, str | Promise]) -> list[MemoryItem]:
    """Records with their device, rating reason and usage (two queries for a page)."""
    ids = [r.id for r in records]
    devices = {str(d.pk): str(d) for d in Device.objects.filter(household_id=child.household_id)}
    feedback = {f.memory_id: f for f in MemoryFeedback.objects.filter(child=child, memory_id__in=ids)}
    usage = {
        row["memory_id"]: row
        for row in MemoryUsage.objects.filter(memory_id__in=ids, namespace=child.namespace)
        .values("memory_id").annotate(uses=Sum("count"), last=Max("last_used_at"))
    }
    sessions = _sessions(child, records, devices)
    return [
        MemoryItem(record=r, category_label=_category_label(r, category_labels),
                   device=devices.get(str(r.metadata.get("device_id", "")), ""), feedback=feedback.get(r.id),
                   uses=usage.get(r.id, {}).get("uses", 0), last_used_at=usage.get(r.id, {}).get("last"),
                   session=sessions.get(r.id))
        for r in records
    ]


def _sessions(child, records: list[MemoryRecord], devices: dict[str, str]) -> dict[str, Session]:
    """The session each learned memory came from (one query), while its row is kept."""
    wanted = {r.id: str(r.metadata["conversation_id"]) for r in records if r.metadata.get("conversation_id")}
    if not wanted:
        return {}
    rows = {str(c.pk): c for c in Conversation.objects.filter(child=child, pk__in=[
        int(i) for i in set(wanted.values()) if i.isdigit()]).only("pk", "device_id", "created_at", "messages")}
    by_record = {r.id: r for r in records}
    found = {}
    for memory_id, conversation_id in wanted.items():
        row = rows.get(conversation_id)
        if row is not None:
            found[memory_id] = Session(toy=devices.get(str(row.device_id), "a toy no longer registered"),
                                       at=row.created_at, sentence=source_sentence(by_record[memory_id].text,
                                                                                   row.messages))
    return found


_WORD = re.compile(r"\w+", re.UNICODE)


def source_sentence(memory_text: str, messages: list) -> str:
    """The child's message sharing the most words with the memory ("" when none does, or
    the messages were dropped after extraction, as they are today)."""
    words = {w.casefold() for w in _WORD.findall(memory_text) if len(w) > 2}
    best, best_shared = "", 0
    for message in messages or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = str(message.get("content", ""))
        shared = len(words & {w.casefold() for w in _WORD.findall(content)})
        if shared > best_shared:
            best, best_shared = content, shared
    return best[:500]


def child_memory_search(child, query: str, *, flt: ListFilter | None = None,
                        limit: int = PAGE_SIZE) -> list[MemoryRecord]:
    """Semantic search (Mem0's embedding, ranked) inside the child's namespace: only the
    matches at least SEARCH_MIN_SCORE close, best first (none at all is an answer too)."""
    found: list[MemoryRecord] = gateway.get().search(child_namespaces(child), query, limit=limit, flt=flt)
    return [r for r in found if r.score is None or r.score >= settings.SEARCH_MIN_SCORE]


# How close a match is, in words (cosine similarity of MiniLM embeddings; see SEARCH_MIN_SCORE).
CLOSENESS = ((0.55, "Very close match"), (0.40, "Close match"), (0.0, "Loosely related"))


def closeness(score: float | None) -> str:
    if score is None:
        return ""
    return next(words for floor, words in CLOSENESS if score >= floor)


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


def pending_ids(pending_deletes: list[Job]) -> set[str]:
    """The ids of memories in a pending delete (a pending "delete everything" has none)."""
    return {i for job in pending_deletes for i in job.params.get("memory_ids", [])}


def jobs_for(user) -> QuerySet[Job]:
    return Job.objects.filter(household__in=households_for(user)).select_related("child")


def job_for(user, pk) -> Job:
    job = jobs_for(user).filter(pk=pk).first()
    if job is None:
        raise Http404("No such job in your household.")
    return job


def household_audit(user) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(household__in=households_for(user)).select_related("actor")
