"""What the best dashboards have, on the memory list: delete everything a filter shows (a
date range is a filter) with the same confirmation; select all and rate a selection; a
"never use" view; a visible memory on/off switch with a "paused" banner; the profile's
card leads to the profile page; and where each memory came from."""

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from memories import sync
from memories.models import Conversation, Job
from portal.models import AuditEvent


def _list(family):
    return reverse("memories:list", args=[family.child_a.pk])


def test_delete_everything_a_filter_shows_after_the_same_confirmation(family, remember, login, gw):
    sync.child_push(family.child_a)  # the profile memory: never deleted by a filter
    health = [remember(f"Rahul is allergic to thing {i}", category="health_safety") for i in range(3)]
    other = remember("Rahul likes chess", category="interests")
    client = login(family.parent_a)
    url = reverse("memories:delete_filtered", args=[family.child_a.pk])
    listed = client.get(_list(family), {"category": "health_safety"}).content.decode()
    assert f"{url}?category=health_safety" in listed and "Delete everything this filter shows" in listed

    asked = client.get(url, {"category": "health_safety"})
    body = asked.content.decode()
    assert "Delete the 3 memories this filter shows?" in body and "thing 1" in body and "chess" not in body
    assert "category Health" in body or "category health" in body.lower()
    assert 'name="category" value="health_safety"' in body and all(gw.get(m.id) for m in health)

    done = client.post(url, {"category": "health_safety", "confirmed": "yes"}, follow=True)
    assert "Deleted 3 memories" in done.content.decode()
    assert [gw.get(m.id) for m in health] == [None] * 3 and gw.get(other.id) is not None
    assert gw.list([family.child_a.namespace], flt=None).total == 2  # chess and the profile


def test_a_date_range_is_a_filter_to_delete_by(family, remember, login, gw):
    remember("Rahul went to the zoo"), remember("Rahul went to the beach")
    client = login(family.parent_a)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    asked = client.get(reverse("memories:delete_filtered", args=[family.child_a.pk]), {"date_from": tomorrow})
    assert asked.status_code == 302  # nothing learned from tomorrow on: nothing to delete
    today = timezone.localdate().isoformat()
    asked = client.get(reverse("memories:delete_filtered", args=[family.child_a.pk]),
                       {"date_from": today, "date_to": today}).content.decode()
    assert "Delete the 2 memories this filter shows?" in asked and f"learned from {today}" in asked.lower()


def test_a_filter_delete_needs_a_filter(family, remember, login, gw):
    memory = remember("Rahul went to the zoo")
    client = login(family.parent_a)
    response = client.post(reverse("memories:delete_filtered", args=[family.child_a.pk]), {"confirmed": "yes"},
                           follow=True)
    assert "Choose a filter first" in response.content.decode() and gw.get(memory.id) is not None
    stranger = client.get(reverse("memories:delete_filtered", args=[family.child_b.pk]), {"kind": "parent"})
    assert stranger.status_code == 404


def test_select_all_and_rate_a_selection_then_see_the_never_use_view(family, remember, login, gw):
    chosen = [remember(f"Rahul said word {i}") for i in range(3)]
    kept = remember("Rahul likes chess")
    client = login(family.parent_a)
    page = client.get(_list(family)).content.decode()
    assert "data-select-all" in page and "js/select-all.js" in page
    assert reverse("memories:rate_selected", args=[family.child_a.pk]) in page
    response = client.post(reverse("memories:rate_selected", args=[family.child_a.pk]),
                           {"memory_ids": [m.id for m in chosen], "rating": "VERY_NEGATIVE"}, follow=True)
    assert "3 memories rated 🚫 Never use" in response.content.decode()
    assert all(gw.get(m.id).blocked for m in chosen) and not gw.get(kept.id).blocked
    assert AuditEvent.objects.filter(action="memory.rate").count() == 3

    never = client.get(_list(family), {"rating": "VERY_NEGATIVE"}).content.decode()
    assert "The toys are never given these memories" in never and "word 2" in never and "chess" not in never
    assert 'aria-current="page">🚫 Never use' in never
    foreign = client.post(reverse("memories:rate_selected", args=[family.child_b.pk]),
                          {"memory_ids": [chosen[0].id], "rating": "POSITIVE"})
    assert foreign.status_code == 404


def test_the_memory_switch_pauses_with_a_banner(family, remember, login):
    remember("Rahul likes chess")
    client = login(family.parent_a)
    switch = reverse("child_memory_switch", args=[family.child_a.pk])
    on = client.get(_list(family)).content.decode()
    assert "Memory on" in on and "Pause memory" in on and switch in on
    response = client.post(switch, {"memory": "off", "next": _list(family)}, follow=True)
    assert response.redirect_chain[-1][0] == _list(family)
    body = response.content.decode()
    assert "Memory paused" in body and "neither learn nor recall anything about Rahul" in body
    family.child_a.refresh_from_db()
    assert family.child_a.memory_paused
    detail = client.get(reverse("child_detail", args=[family.child_a.pk])).content.decode()
    assert "Turn memory back on" in detail
    client.post(switch, {"memory": "on", "next": "https://evil.example/"})
    family.child_a.refresh_from_db()
    assert not family.child_a.memory_paused
    stranger = Client()
    stranger.force_login(family.parent_b)
    assert stranger.post(switch, {"memory": "off"}).status_code == 404


def test_the_profile_card_leads_to_the_profile_page(family, login, gw):
    sync.child_push(family.child_a)
    profile = next(m for m in gw.list([family.child_a.namespace]).items if m.kind == "child_profile")
    client = login(family.parent_a)
    body = client.get(_list(family)).content.decode()
    card = body[body.index(f'id="memory-{profile.id}"'):]
    card = card[:card.index("</li>")]
    assert reverse("child_edit", args=[family.child_a.pk]) in card and "Change the profile" in card
    assert reverse("memories:edit", args=[family.child_a.pk, profile.id]) not in card
    assert 'name="memory_ids"' not in card and reverse("memories:delete", args=[family.child_a.pk, profile.id]) \
        not in card
    refused = client.post(reverse("memories:delete_selected", args=[family.child_a.pk]),
                          {"memory_ids": [profile.id], "confirmed": "yes"}, follow=True)
    assert "change it on the profile page" in refused.content.decode() and gw.get(profile.id) is not None
    assert not Job.objects.exists()


def test_where_each_memory_came_from(family, gw, login):
    kept = Conversation.objects.create(child=family.child_a, device=family.device_a, state="done", messages=[
        {"role": "assistant", "content": "What did you do today?"},
        {"role": "user", "content": "I built a sandcastle with my cousin Meena at the beach!"},
        {"role": "user", "content": "Then we ate ice cream."}])
    dropped = Conversation.objects.create(child=family.child_a, device=family.device_a, state="done", messages=[])
    ns = family.child_a.namespace
    with_sentence = gw.add(ns, "Rahul built a sandcastle with cousin Meena", {"conversation_id": kept.pk,
                                                                              "device_id": str(family.device_a.pk)})
    without = gw.add(ns, "Rahul likes ice cream", {"conversation_id": dropped.pk, "device_id": str(family.device_a.pk)})
    gone = gw.add(ns, "Rahul has a red bike", {"conversation_id": 987654321})
    body = login(family.parent_a).get(_list(family)).content.decode()

    def card(memory):
        part = body[body.index(f'id="memory-{memory.id}"'):]
        return part[:part.index("</li>")]

    assert "Learned in a session with Robot A on" in card(with_sentence)
    assert "I built a sandcastle with my cousin Meena at the beach!" in card(with_sentence)
    assert "Learned in a session with Robot A on" in card(without) and "from:" not in card(without)
    assert "Learned in a session on" in card(gone)
