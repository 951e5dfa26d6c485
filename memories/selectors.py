"""Reads of memories, always through a child the acting user may see."""

from dataclasses import dataclass

from django.http import Http404

from devices.selectors import child_namespaces
from memories import gateway
from memories.gateway import ListFilter, MemoryRecord

PAGE_SIZE = 50


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
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1


def child_memory_page(child, number: int = 1, *, flt: ListFilter | None = None,
                      size: int = PAGE_SIZE) -> MemoryPage:
    namespaces = child_namespaces(child)
    page = gateway.get().list(namespaces, offset=(number - 1) * size, limit=size, flt=flt)
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
