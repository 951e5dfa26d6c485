"""What the toy knows about a child, at a glance: counts per category, what it learned in the
last seven days, what is rated 🚫, when a toy last used the memory, and memories learned
per week (drawn as a small SVG chart on the page). The weekly digest email reads the same.

Reads go through the gateway (``list`` and ``iter_all`` with a ``ListFilter``), in the
child's namespace; weeks start on Monday in the viewer's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Max
from django.utils import formats, timezone

from devices.selectors import child_namespaces
from memories import categories, gateway
from memories.gateway import LEARNED_KIND, PARENT_KIND, ListFilter, MemoryRecord
from memories.models import MemoryUsage

WEEKS = 12
SHOWN = 10  # items listed per section; the rest are counted and linked
KNOWN_KINDS = (LEARNED_KIND, PARENT_KIND)  # everything but the profile the parent wrote
BLOCKED = ListFilter(ratings=("VERY_NEGATIVE",))


@dataclass(frozen=True)
class Bar:
    week: date
    count: int
    x: float
    y: float
    height: float
    label: str  # shown under some bars only (every third week)

    @property
    def center(self) -> float:
        return self.x + 10

    @property
    def count_y(self) -> float:
        return self.y - 4


@dataclass(frozen=True)
class Chart:
    """Bars in a 0 0 ``WIDTH`` ``HEIGHT`` viewBox, highest bar full height."""

    WIDTH = 360
    HEIGHT = 150
    PLOT = 110  # bars stand on y = PLOT; labels below, counts above
    bars: list[Bar]
    top: int

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bars)


@dataclass(frozen=True)
class Glance:
    total: int
    by_category: list[tuple[str, str, int]]  # (key, label, count), most first
    week: list[MemoryRecord]
    week_total: int
    blocked: list[MemoryRecord]
    blocked_total: int
    last_used_at: datetime | None
    chart: Chart
    since: date  # the first day of "the last seven days", for the list's date filter


def week_monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def child_glance(child, *, now: datetime | None = None) -> Glance:
    """One pass over the child's memories (keyset batches) for the counts and the chart,
    two short pages for the lists, one query for the last use."""
    now = now or timezone.now()
    store, namespaces = gateway.get(), child_namespaces(child)
    labels = categories.labels(categories.for_child(child))
    first_week = week_monday(timezone.localdate(now)) - timedelta(weeks=WEEKS - 1)
    per_category: dict[str, int] = {}
    per_week: dict[date, int] = {}
    total = 0
    for record in store.iter_all(namespaces, flt=ListFilter(kinds=KNOWN_KINDS)):
        total += 1
        key = record.category or ""
        per_category[key] = per_category.get(key, 0) + 1
        if record.created_at is not None:
            monday = week_monday(timezone.localdate(_aware(record.created_at)))
            if monday >= first_week:
                per_week[monday] = per_week.get(monday, 0) + 1
    since = now - timedelta(days=7)
    week = store.list(namespaces, limit=SHOWN, flt=ListFilter(kinds=KNOWN_KINDS, created_from=since))
    blocked = store.list(namespaces, limit=SHOWN, flt=BLOCKED)
    last_used = MemoryUsage.objects.filter(namespace__in=namespaces).aggregate(last=Max("last_used_at"))["last"]
    return Glance(
        total=total,
        by_category=sorted(((k, _label(k, labels), n) for k, n in per_category.items()), key=lambda c: (-c[2], c[1])),
        week=week.items, week_total=week.total, blocked=blocked.items, blocked_total=blocked.total,
        last_used_at=last_used, chart=chart([(first_week + timedelta(weeks=i),
                                              per_week.get(first_week + timedelta(weeks=i), 0)) for i in range(WEEKS)]),
        since=timezone.localdate(since),
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


def _label(key: str, labels: dict[str, str]) -> str:
    from memories.selectors import UNCATEGORISED

    return labels.get(key, key) if key else str(UNCATEGORISED)


def chart(weeks: list[tuple[date, int]]) -> Chart:
    """Bar geometry for the template: 12 slots of 30 units, bars 20 wide."""
    top = max([n for _w, n in weeks] + [1])
    slot = Chart.WIDTH / max(len(weeks), 1)
    bars = []
    for i, (week, count) in enumerate(weeks):
        height = round(Chart.PLOT * count / top, 1) if count else 0
        bars.append(Bar(week=week, count=count, x=round(i * slot + slot / 6, 1), y=round(Chart.PLOT - height, 1),
                        height=height, label=formats.date_format(week, "MONTH_DAY_FORMAT") if i % 3 == 0 else ""))
    return Chart(bars=bars, top=top)
