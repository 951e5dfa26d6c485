"""The activity log and receipts speak the parent's words (issue 12, point 8): every action
the code records has words in ``portal.audit.ACTION_LABELS``; the page shows those words,
never ``device.register`` or ``memory.delete_start``."""

import re
from pathlib import Path

from django.urls import reverse

from memories import services
from portal.audit import ACTION_LABELS, action_label

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"""action\s*=\s*(?:f?"([a-z_]+\.[a-z_{}]+)")(?:\s+if\s+[^"]+\s+else\s+"([a-z_]+\.[a-z_]+)")?""")
TRAIL = re.compile(r"""Trail\(\s*request\s*,\s*"([a-z_]+)"\s*\)""")
ASSIGNED = re.compile(r"""action\s*=\s*"([a-z_]+\.[a-z_]+)"\s+if\s+[^\n]+?\s+else\s+"([a-z_]+\.[a-z_]+)\"""")


def actions_in_code() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("portal/**/*.py"), *ROOT.glob("devices/**/*.py"), *ROOT.glob("memories/**/*.py")]:
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        for match in LITERAL.finditer(source):
            found.update(m for m in match.groups() if m)
        for match in ASSIGNED.finditer(source):
            found.update(match.groups())
        found.update(f"toy.{what}" for what in TRAIL.findall(source))
    found = {a.replace("{fmt}", fmt) for a in found for fmt in (("json", "csv") if "{fmt}" in a else ("",))}
    return {a for a in found if "{" not in a}


def test_every_action_in_the_code_has_words_for_parents():
    found = actions_in_code()
    assert {"device.register", "memory.delete_start", "export.json", "toy.search"} <= found
    assert not sorted(found - set(ACTION_LABELS))


def test_a_toy_calls_outcome_and_an_unknown_action_still_read_as_words():
    assert action_label("toy.search.paused") == "The toy recalled memories (nothing given: memory is paused)"
    assert action_label("memory.delete_start") == "Started deleting memories"
    assert action_label("brand.new") == "Something else (brand.new)"


def test_the_activity_page_shows_words_not_codes(family, gw, login):
    services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    body = login(family.parent_a).get(reverse("memories:activity")).content.decode()
    assert "Registered a toy" in body and "Added a memory" in body and "Added a child" in body
    for code in ("device.register", "memory.add", "child.create"):
        assert code not in body
