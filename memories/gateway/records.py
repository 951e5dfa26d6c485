"""What the gateway returns and takes: plain dataclasses, never raw Mem0 dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils.translation import gettext_lazy as _

from portal.errors import ServiceUnavailable

PROFILE_KIND = "child_profile"
PARENT_KIND = "parent"
LEARNED_KIND = "learned"
KINDS = {PROFILE_KIND: _("Profile"), LEARNED_KIND: _("Learned from conversations"), PARENT_KIND: _("Added by a parent")}


class Mem0Unavailable(ServiceUnavailable):
    """Mem0 (or its database, or the Platform) cannot be reached: try again later."""


class LLMNotConfigured(Exception):
    """Extraction from conversations needs an LLM (LLM_BASE_URL)."""


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    namespace: str
    text: str
    metadata: dict = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    score: float | None = None
    cursor: str | None = field(default=None, compare=False)  # where a keyset page after this one starts

    @property
    def kind(self) -> str:
        kind = self.metadata.get("kind")
        return kind if kind in (PROFILE_KIND, PARENT_KIND) else LEARNED_KIND

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def category(self) -> str | None:
        return self.metadata.get("category")

    @property
    def rating(self) -> str | None:
        return self.metadata.get("rating")

    @property
    def blocked(self) -> bool:
        return self.metadata.get("rating") == "VERY_NEGATIVE"


@dataclass(frozen=True)
class HistoryEntry:
    memory_id: str
    event: str
    old_text: str | None
    new_text: str | None
    at: datetime | None


@dataclass(frozen=True)
class Page:
    items: list[MemoryRecord]
    total: int
    capped: bool = False  # the count stopped at the list's count_limit: there are more


@dataclass(frozen=True)
class ListFilter:
    """What a memory list is narrowed to. Every field is optional."""

    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    ratings: tuple[str, ...] = ()  # POSITIVE / NEGATIVE / VERY_NEGATIVE / "none"
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str = ""  # plain, case-insensitive substring match
    exclude_blocked: bool = False
    device_ids: tuple[str, ...] = ()  # the toys a memory came from (metadata device_id)

    def matches(self, record: MemoryRecord) -> bool:
        """This filter applied in Python, meaning what the local backend's SQL means."""
        created = aware(record.created_at)
        category = record.category if record.category is not None else "other"
        return all((
            not self.kinds or record.kind in self.kinds,
            not self.categories or category in self.categories,
            not self.ratings or (record.rating or "none") in self.ratings,
            not (self.exclude_blocked and record.blocked),
            not self.device_ids or str(record.metadata.get("device_id", "")) in self.device_ids,
            not self.created_from or (created is not None and created >= aware(self.created_from)),
            not self.created_to or (created is not None and created < aware(self.created_to)),
            not self.text or self.text.casefold() in record.text.casefold(),
        ))


def kinds_except(excluded: list[str] | None) -> tuple[str, ...]:
    return tuple(k for k in (PROFILE_KIND, PARENT_KIND, LEARNED_KIND) if k not in (excluded or []))


def parse_time(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def history_entry(memory_id: str, row: dict) -> HistoryEntry:
    """One row of Mem0's history (local or Platform: the same keys)."""
    return HistoryEntry(memory_id=str(memory_id), event=row.get("event", ""), old_text=row.get("old_memory"),
                        new_text=row.get("new_memory"),
                        at=parse_time(row.get("updated_at") or row.get("created_at")))
