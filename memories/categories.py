"""Memory categories a parent understands, assigned without an LLM.

A memory's category is the ``category`` key of its Mem0 metadata. When the portal writes
a memory (a parent's add or correction, an extraction) the category is the one whose
description is closest (cosine similarity) to the memory's embedding, from the local
embedder. Memories still without one (an extraction whose categorising failed, older data)
get theirs from the ``memories_categorise`` task, never from a page read; the list shows
them as uncategorised meanwhile. Admins
rename or extend the list per agent (``Agent.categories``: ``[{key, label, description}]``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from memories import gateway
from memories.gateway import PROFILE_KIND, MemoryRecord

PROFILE_KEY = "profile"  # what devices.profile gives the profile memory
CATEGORISE_BATCH = 500  # memories embedded and written per round trip


@dataclass(frozen=True)
class Category:
    key: str
    label: str | Promise  # translated lazily
    description: str


DEFAULTS = (
    Category("interests", _("Interests"),
             "Hobbies, games, toys, favourite animals, sports, music, books, shows and things the child likes."),
    Category("family_friends", _("Family & friends"),
             "Parents, brothers, sisters, grandparents, pets, friends, classmates and the people the child knows."),
    Category("routines", _("Routines"),
             "Daily routines: bedtime, waking up, meals, food, weekends, holidays and habits."),
    Category("school_learning", _("School & learning"),
             "School, teachers, homework, lessons, reading, maths, science and what the child is learning."),
    Category("feelings", _("Feelings"),
             "Emotions and moods: happy, sad, scared, worried, angry, proud, fears and what comforts the child."),
    Category("health_safety", _("Health & safety"),
             "Allergies, illness, medicine, doctors, injuries, diet restrictions and safety rules."),
    Category("other", _("Other"), "Anything else."),
)

_vectors: dict[tuple[str, ...], np.ndarray] = {}
_lock = threading.Lock()


def from_agent(raw: list | None) -> tuple[Category, ...]:
    """An agent's list (admins' JSON), or the defaults when it has none usable."""
    parsed = []
    for item in raw or []:
        if isinstance(item, dict) and str(item.get("key") or "").strip():
            key = str(item["key"]).strip()
            parsed.append(Category(key, str(item.get("label") or key), str(item.get("description") or key)))
    return tuple(parsed) or DEFAULTS


def for_child(child) -> tuple[Category, ...]:
    """The categories of the agent behind the child's first device that has one."""
    agents = [d.agent for d in child.devices.all() if d.agent is not None and d.agent.categories]
    return from_agent(agents[0].categories if agents else None)


def labels(categories: Iterable[Category]) -> dict[str, str | Promise]:
    return {PROFILE_KEY: _("Profile"), **{c.key: c.label for c in categories}}


def _category_vectors(categories: tuple[Category, ...]) -> np.ndarray:
    """Unit vectors of the descriptions, computed once per process and list."""
    key = tuple(c.description for c in categories)
    with _lock:
        if key not in _vectors:
            _vectors[key] = _unit(np.asarray(gateway.get().embed_many(list(key)), dtype=np.float32))
        return _vectors[key]


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def classify(texts: list[str], categories: tuple[Category, ...]) -> list[str]:
    """The closest category key for each text."""
    if not texts:
        return []
    texts_unit = _unit(np.asarray(gateway.get().embed_many(texts), dtype=np.float32))
    best = (texts_unit @ _category_vectors(categories).T).argmax(axis=1)
    return [categories[i].key for i in best]


def categorise_missing(records: list[MemoryRecord], categories: tuple[Category, ...]) -> list[MemoryRecord]:
    """Give every record without a category one, in Mem0 (one round trip) and in the list."""
    missing = [r for r in records if not r.category and r.kind != PROFILE_KIND]
    if not missing:
        return records
    keys = classify([r.text for r in missing], categories)
    assigned = {r.id: key for r, key in zip(missing, keys, strict=True)}
    gateway.get().set_metadata_many({memory_id: {"category": key} for memory_id, key in assigned.items()})
    return [replace(r, metadata={**r.metadata, "category": assigned[r.id]}) if r.id in assigned else r
            for r in records]


def memories_categorise(*, child) -> int:
    """Categorise every memory of the child that has none (the task's work: idempotent, a
    second run finds nothing). Returns how many memories got a category."""
    from devices.selectors import child_namespaces

    missing = [r for r in gateway.get().iter_all(child_namespaces(child))
               if not r.category and r.kind != PROFILE_KIND]
    cats = for_child(child)
    for start in range(0, len(missing), CATEGORISE_BATCH):
        categorise_missing(missing[start : start + CATEGORISE_BATCH], cats)
    return len(missing)
