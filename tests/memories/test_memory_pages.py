"""The parent's memory pages: access for every route, htmx and full pages, escaping."""

import pytest
from django.urls import reverse

from memories import services
from memories.gateway import PROFILE_KIND
from portal.models import AuditEvent

HTMX = {"HTTP_HX_REQUEST": "true"}
MEMORY_ROUTES = [("detail", "get"), ("history", "get"), ("edit", "get"), ("edit", "post"), ("rate", "post"),
                 ("category", "post"), ("delete", "get"), ("delete", "post")]
CHILD_ROUTES = [("list", "get"), ("add", "get"), ("add", "post"), ("delete_selected", "post"),
                ("delete_all", "get"), ("delete_all", "post"), ("export", "get"), ("export", "post")]
WRONG_METHOD = [("list", "post"), ("detail", "post"), ("history", "post"), ("rate", "get"), ("category", "get"),
                ("delete_selected", "get")]


def url(name, child, memory=None):
    args = [child.pk] + ([memory.id] if memory is not None else [])
    return reverse(f"memories:{name}", args=args)


def call(client, method, target, **extra):
    return getattr(client, method)(target, **extra)


@pytest.fixture
def memory(remember):
    return remember("Rahul loves dinosaurs, especially the T-rex")


def _all_routes(family, memory):
    yield from ((url(name, family.child_a, memory), method) for name, method in MEMORY_ROUTES)
    yield from ((url(name, family.child_a), method) for name, method in CHILD_ROUTES)


def test_anonymous_is_sent_to_login(client, family, memory):
    for target, method in _all_routes(family, memory):
        response = call(client, method, target)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), target


@pytest.mark.parametrize("persona", ["support", "admin"])
def test_staff_roles_are_refused(family, memory, login, persona):
    client = login(getattr(family, persona))
    for target, method in _all_routes(family, memory):
        assert call(client, method, target).status_code == 403, target
    assert client.get(reverse("memories:activity")).status_code == 403


def test_stranger_parent_gets_404_and_never_the_text(family, memory, login):
    client = login(family.parent_b)
    for target, method in _all_routes(family, memory):
        response = call(client, method, target, data={"text": "hacked", "rating": "POSITIVE", "category": "other"})
        assert response.status_code == 404, target
        assert b"dinosaurs" not in response.content


def test_a_memory_id_of_another_family_is_404_under_your_own_child(family, foreign, login):
    client = login(family.parent_a)
    for name, method in MEMORY_ROUTES:
        response = call(client, method, url(name, family.child_a, foreign),
                        data={"text": "hacked", "rating": "VERY_NEGATIVE", "category": "other"})
        assert response.status_code == 404, name
        assert b"flowerpot" not in response.content
    response = client.post(url("delete_selected", family.child_a), {"memory_ids": [foreign.id]})
    assert response.status_code == 404


def test_wrong_method_is_405(family, memory, login):
    client = login(family.parent_a)
    for name, method in WRONG_METHOD:
        target = url(name, family.child_a, memory if name in dict(MEMORY_ROUTES) else None)
        assert call(client, method, target).status_code == 405, name
    assert client.post(reverse("memories:activity")).status_code == 405


def test_list_shows_every_detail_and_pins_its_queries(family, memory, login, django_assert_num_queries):
    client = login(family.parent_a)
    client.get(url("list", family.child_a))  # categorised and sessions warm
    with django_assert_num_queries(9):  # + the deletes in their undo window
        response = client.get(url("list", family.child_a))
    body = response.content.decode()
    assert response.status_code == 200 and "dinosaurs" in body
    assert "Interests" in body and "Robot A" in body and "Added by a parent" in body and "not used yet" in body
    assert "1 memory" in body


def test_list_htmx_returns_the_results_partial(family, memory, login):
    response = login(family.parent_a).get(url("list", family.child_a), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="results"')
    assert "<html" not in body and "dinosaurs" in body


def test_pages_of_fifty_with_the_total(family, gw, login):
    gw.bulk_insert(family.device_a.namespace, [f"fact number {i}" for i in range(120)],
                   vectors=[[1.0] + [0.0] * 383] * 120, metadata={"category": "other"})
    client = login(family.parent_a)
    body = client.get(url("list", family.child_a)).content.decode()
    assert "120 memories · page 1 of 3" in body and "fact number 0<" in body and "fact number 49<" in body
    last = client.get(url("list", family.child_a), {"page": 3, "category": "other"}).content.decode()
    assert "page 3 of 3" in last and "fact number 119<" in last and "fact number 99<" not in last
    assert "category=other" in last  # the pager keeps the filters
    assert client.get(url("list", family.child_a), {"page": "x" * 30}).status_code == 200
    assert client.get(url("list", family.child_a), {"page": 10 ** 30}).status_code == 200


def test_untrusted_text_renders_escaped(family, gw, login):
    ns = family.device_a.namespace
    for text in ["<script>alert('x')</script><img src=x onerror=alert(1)>", "🦖🚀 dino emoji ✨",
                 "\u05e9\u05dc\u05d5\u05dd \u202eevil\u202c rtl", "long " + "ö" * 5000]:
        gw.add(ns, text, {})
    body = login(family.parent_a).get(url("list", family.child_a)).content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert "🦖🚀 dino emoji ✨" in body and "\u05e9\u05dc\u05d5\u05dd" in body and "ö" * 5000 in body


def test_semantic_search_and_text_match_say_which_they_are(family, remember, login):
    remember("Rahul is afraid of thunderstorms at night")
    remember("Rahul's best friend at school is called Arjun")
    client = login(family.parent_a)
    semantic = client.get(url("list", family.child_a), {"q": "scared of the weather"}).content.decode()
    assert "Semantic search" in semantic and "thunderstorms" in semantic
    assert "Arjun" not in semantic  # below the relevance cut-off (tests/memories/test_search_cutoff.py)
    text = client.get(url("list", family.child_a), {"q": "arjun", "mode": "text"}).content.decode()
    assert "Text match" in text and "Arjun" in text and "thunderstorms" not in text


def test_filters_live_in_the_url(family, remember, login, gw):
    remember("Rahul is allergic to peanuts", category="health_safety")
    remember("Rahul likes chess", category="interests")
    client = login(family.parent_a)
    body = client.get(url("list", family.child_a), {"category": "health_safety"}).content.decode()
    assert "peanuts" in body and "chess" not in body
    assert "chess" in client.get(url("list", family.child_a), {"kind": "parent", "rating": "none"}).content.decode()
    assert "chess" not in client.get(url("list", family.child_a), {"kind": "learned"}).content.decode()
    assert "chess" not in client.get(url("list", family.child_a), {"date_from": "2999-01-01"}).content.decode()
    device = client.get(url("list", family.child_a), {"device": family.device_a.pk}).content.decode()
    assert "chess" in device
    bad = client.get(url("list", family.child_a), {"date_from": "not-a-date", "rating": "bogus"})
    assert bad.status_code == 200 and "chess" in bad.content.decode()


def test_edit_in_place_with_htmx_and_plain_form(family, memory, login, gw):
    client = login(family.parent_a)
    form = client.get(url("edit", family.child_a, memory), **HTMX).content.decode()
    assert form.lstrip().startswith("<li") and "<textarea" in form and "<html" not in form
    swapped = client.post(url("edit", family.child_a, memory), {"text": "Rahul loves the triceratops"}, **HTMX)
    assert swapped.status_code == 200 and "triceratops" in swapped.content.decode() and "<html" not in swapped.content.decode()
    plain = client.post(url("edit", family.child_a, memory), {"text": "Rahul loves the stegosaurus"})
    assert plain.status_code == 302 and plain["Location"].endswith(f"#memory-{memory.id}")
    assert gw.get(memory.id).text == "Rahul loves the stegosaurus"
    history = client.get(url("history", family.child_a, memory)).content.decode()
    assert "triceratops" in history and "by parent (parent.a@example.test)" in history
    assert client.get(url("history", family.child_a, memory), **HTMX).content.decode().lstrip().startswith("<section")


@pytest.mark.parametrize("text, message", [("   ", "This field is required"), ("x" * 2001, "at most 2000")])
def test_edit_errors_are_form_errors(family, memory, login, gw, text, message):
    client = login(family.parent_a)
    for extra in ({}, HTMX):
        response = client.post(url("edit", family.child_a, memory), {"text": text}, **extra)
        assert response.status_code == 200 and message in response.content.decode()
    assert gw.get(memory.id).text == memory.text


def test_profile_memory_is_corrected_on_the_profile_page(family, gw, login):
    profile = gw.add(family.device_a.namespace, "Child Profile - Name: Rahul", {"kind": PROFILE_KIND})
    response = login(family.parent_a).post(url("edit", family.child_a, profile), {"text": "Name: Bob"})
    assert response.status_code == 200 and "profile page" in response.content.decode()


def test_rate_change_and_remove(family, memory, login, gw):
    client = login(family.parent_a)
    response = client.post(url("rate", family.child_a, memory), {"rating": "VERY_NEGATIVE", "reason": "not true"},
                           **HTMX)
    assert response.status_code == 200 and 'aria-pressed="true">🚫' in response.content.decode()
    assert gw.get(memory.id).blocked
    assert client.post(url("rate", family.child_a, memory), {"rating": "POSITIVE"}).status_code == 302
    assert gw.get(memory.id).rating == "POSITIVE"
    client.post(url("rate", family.child_a, memory), {"rating": ""})
    assert gw.get(memory.id).rating is None
    bad = client.post(url("rate", family.child_a, memory), {"rating": "GREAT"}, **HTMX)
    assert bad.status_code == 200 and 'role="alert"' in bad.content.decode()


def test_add_a_memory_by_hand(family, login, gw):
    client = login(family.parent_a)
    assert client.get(url("add", family.child_a)).status_code == 200
    response = client.post(url("add", family.child_a), {"text": "She is allergic to peanuts",
                                                        "device": family.device_a.pk, "category": ""})
    assert response.status_code == 302
    items = gw.list([family.device_a.namespace]).items
    assert [(m.text, m.kind, m.category) for m in items] == [("She is allergic to peanuts", "parent", "health_safety")]
    stranger_device = client.post(url("add", family.child_a), {"text": "x", "device": family.device_b.pk})
    assert stranger_device.status_code == 200 and "Select a valid choice" in stranger_device.content.decode()


def test_change_category(family, memory, login, gw):
    client = login(family.parent_a)
    response = client.post(url("category", family.child_a, memory), {"category": "feelings"}, **HTMX)
    assert response.status_code == 200 and '<option value="feelings" selected>' in response.content.decode()
    assert gw.get(memory.id).metadata["category"] == "feelings"
    services.memory_correct(actor=family.parent_a, child=family.child_a, memory_id=memory.id,
                            text="Rahul loves maths homework")
    assert gw.get(memory.id).category == "feelings"  # the parent's choice stays


def test_delete_one_with_htmx_and_plain(family, remember, login, gw):
    first, second = remember("one to go"), remember("another to go")
    client = login(family.parent_a)
    assert "one to go" in client.get(url("delete", family.child_a, first)).content.decode()
    htmx = client.post(url("delete", family.child_a, first), **HTMX)
    assert htmx.status_code == 200 and htmx["HX-Redirect"] == reverse("memories:list", args=[family.child_a.pk])
    assert client.post(url("delete", family.child_a, second)).status_code == 302
    assert gw.get(first.id) is None and gw.get(second.id) is None


def test_activity_page_shows_only_the_household(family, memory, login):
    services.memory_rate(actor=family.parent_b, child=family.child_b,
                         memory_id=services.memory_add(actor=family.parent_b, child=family.child_b,
                                                       device=family.device_b, text="Mia likes cats").id,
                         rating="POSITIVE")
    body = login(family.parent_a2).get(reverse("memories:activity")).content.decode()
    assert "Added a memory" in body and "Rahul" in body and "Mia" not in body and "dinosaurs" not in body
    assert AuditEvent.objects.filter(action="memory.add", child_id=family.child_b.pk).exists()


def test_base_nav_links_the_activity_page(family, login):
    assert reverse("memories:activity") in login(family.parent_a).get(reverse("home")).content.decode()
