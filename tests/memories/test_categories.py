"""Categories without an LLM: nearest category description by embedding."""

from django.urls import reverse

from devices.selectors import child_namespaces
from memories import categories, tasks
from memories.gateway import ListFilter


def test_defaults_sort_plain_sentences():
    texts = ["He is allergic to peanuts and carries an inhaler", "His best friend is Arjun from next door",
             "He is scared of the dark and of thunder", "He goes to bed at eight after brushing his teeth"]
    assert categories.classify(texts, categories.DEFAULTS) == ["health_safety", "family_friends", "feelings",
                                                                 "routines"]


def test_an_agent_can_rename_and_extend_the_list(family):
    family.agent.categories = [{"key": "space", "label": "Space & rockets", "description": "planets, rockets, stars"},
                               {"key": "food", "label": "Food", "description": "meals, fruit, snacks, cooking"},
                               {"label": "no key: ignored"}]
    family.agent.save()
    own = categories.for_child(family.child_a)
    assert [c.key for c in own] == ["space", "food"]
    assert categories.labels(own)["space"] == "Space & rockets"
    assert categories.classify(["He wants to fly a rocket to Mars"], own) == ["space"]
    assert categories.from_agent([]) == categories.DEFAULTS


def test_missing_categories_come_from_the_task_not_from_the_list(family, gw, login):
    ns = child_namespaces(family.child_a)[0]
    gw.bulk_insert(ns, ["Her little brother is called Leo", "She loves drawing horses"],
                   vectors=[[1.0] + [0.0] * 383] * 2)
    assert gw.list([ns], flt=ListFilter(categories=("other",))).total == 2  # none yet
    body = login(family.parent_a).get(reverse("memories:list", args=[family.child_a.pk])).content.decode()
    assert body.count('<option value="" selected>Uncategorised</option>') == 2
    assert {m.category for m in gw.list([ns]).items} == {None}  # the page wrote nothing
    tasks.memories_categorise(family.child_a.pk)
    stored = {m.text: m.category for m in gw.list([ns]).items}
    assert stored == {"Her little brother is called Leo": "family_friends", "She loves drawing horses": "interests"}
    body = login(family.parent_a).get(reverse("memories:list", args=[family.child_a.pk])).content.decode()
    assert "Uncategorised" not in body
