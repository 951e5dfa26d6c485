"""Search by meaning lists only matches above a relevance cut-off (SEARCH_MIN_SCORE, chosen
on the MiniLM scores of the demo memories), says how close each is in words, and says
plainly when nothing matched: "grandma" finds the grandmother, never the hamster."""

import pytest
from django.urls import reverse

from memories import selectors
from memories.management.commands.seed_demo import DEMO_MEMORIES

HAMSTER = "Rahul has a hamster called Coco"


@pytest.fixture
def demo(family, remember):
    return {text: remember(text) for text in [*DEMO_MEMORIES, HAMSTER]}


def _search(client, family, q):
    return client.get(reverse("memories:list", args=[family.child_a.pk]), {"q": q}).content.decode()


def test_grandma_finds_the_grandmother_and_not_the_hamster(family, demo, login):
    body = _search(login(family.parent_a), family, "grandma")
    assert "Rahul calls his grandmother Nani" in body
    assert "hamster" not in body and "dinosaurs" not in body and "football" not in body
    assert "1 memory close in meaning to “grandma”" in body
    assert "Close match" in body or "Very close match" in body


def test_every_demo_query_keeps_only_what_it_is_about(family, demo, gw):
    expected = {"hamster": HAMSTER, "dinosaur": "Rahul likes dinosaurs, especially the T-rex",
                "afraid of goldfish dying": "Rahul felt sad when his goldfish Bubbles died",
                "who are his friends": "Rahul's best friend at school is Arjun"}
    for query, memory in expected.items():
        found = [r.text for r in selectors.child_memory_search(family.child_a, query)]
        assert found and found[0] == memory, (query, found)
        assert len(found) <= 2, (query, found)  # the cut-off keeps the list short


def test_nothing_close_is_said_plainly(family, demo, login):
    body = _search(login(family.parent_a), family, "volcano eruption")
    assert "Nothing the toy remembers about Rahul is close in meaning to “volcano eruption”" in body
    assert 'class="memory"' not in body


def test_closeness_in_words():
    assert selectors.closeness(0.63) == "Very close match"
    assert selectors.closeness(0.44) == "Close match"
    assert selectors.closeness(0.27) == "Loosely related"
    assert selectors.closeness(None) == ""


def test_the_cut_off_is_a_setting(family, demo, settings):
    settings.SEARCH_MIN_SCORE = -1.0
    assert len(selectors.child_memory_search(family.child_a, "grandma")) == len(demo)
