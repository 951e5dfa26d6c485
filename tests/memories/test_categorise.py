"""Reading the memory list never writes: memories without a category are shown as
uncategorised, and the ``memories_categorise`` task (enqueued by writers and by the daily
sweep) gives them one."""

from django.urls import reverse

from devices.selectors import child_namespaces
from memories import categories, tasks


def _snapshot(gw, namespace):
    """Everything Mem0 holds for the namespace that a write could change."""
    return sorted((r.id, r.text, r.metadata, r.updated_at) for r in gw.iter_all([namespace]))


def _uncategorised(gw, family, text):
    """A memory written without a category, as a writer whose categorising failed leaves it."""
    return gw.add(child_namespaces(family.child_a)[0], text, {"kind": "learned"})


def test_a_get_of_the_list_leaves_mem0_unchanged(family, gw, login):
    namespace = child_namespaces(family.child_a)[0]
    record = _uncategorised(gw, family, "Rahul is scared of thunder")
    assert record.category is None
    before = _snapshot(gw, namespace)
    client = login(family.parent_a)
    url = reverse("memories:list", args=[family.child_a.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
    assert _snapshot(gw, namespace) == before
    assert gw.get(record.id).category is None
    assert '<option value="" selected>Uncategorised</option>' in page.content.decode()


def test_the_task_categorises_what_has_none_and_leaves_the_rest(family, gw, remember):
    chosen = remember("Rahul's best friend is Arjun", category="feelings")  # the parent's choice
    loose = [_uncategorised(gw, family, text) for text in ("Rahul loves football", "Rahul goes to bed at 8")]
    assert tasks.memories_categorise(family.child_a.pk) == 2
    keys = {c.key for c in categories.for_child(family.child_a)}
    assert all(gw.get(r.id).category in keys for r in loose)
    assert gw.get(chosen.id).category == "feelings"
    assert tasks.memories_categorise(family.child_a.pk) == 0  # idempotent


def test_the_task_for_a_deleted_child_ends_quietly(db):
    assert tasks.memories_categorise(987654321) == 0


def test_the_daily_sweep_enqueues_every_child(family, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.memories_categorise, "delay", sent.append)
    assert tasks.memories_categorise_sweep() == len(sent)
    assert {family.child_a.pk, family.child_b.pk} <= set(sent)


def test_an_extraction_whose_categorising_fails_hands_over_to_the_task(family, gw, monkeypatch):
    from memories import conversations

    def embedder_down(*args, **kwargs):
        raise RuntimeError("embedder down")

    sent = []
    monkeypatch.setattr(conversations, "enqueue_on_commit", lambda name, *args: sent.append((name, *args)))
    monkeypatch.setattr(categories, "categorise_missing", embedder_down)
    record = _uncategorised(gw, family, "Rahul likes kites")
    conversations._categorise([record.id], None, family.child_a.pk)
    assert sent == [("memories.tasks.memories_categorise", family.child_a.pk)]
    assert gw.get(record.id).category is None
