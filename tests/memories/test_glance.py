"""A child at a glance: counts per category, the last seven days, what is rated 🚫, the last
use, and a chart of memories learned per week drawn on the server as SVG."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from memories import services
from memories.glance import WEEKS, child_glance
from memories.models import MemoryUsage


def _memories(family):
    add = services.memory_add
    kite = add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites", category="interests")
    add(actor=family.parent_a, child=family.child_a, text="Rahul plays chess", category="interests")
    bed = add(actor=family.parent_a, child=family.child_a, text="Rahul sleeps at nine", category="routines")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=bed.id, rating="VERY_NEGATIVE")
    MemoryUsage.objects.create(memory_id=kite.id, namespace=family.child_a.namespace, device=family.device_a,
                               count=2, last_used_at=timezone.now() - timedelta(hours=3))
    add(actor=family.parent_b, child=family.child_b, text="Mia has a cat", category="family_friends")
    return kite, bed


def test_the_glance_counts_lists_and_charts_the_childs_memories_only(family, gw):
    _kite, bed = _memories(family)
    glance = child_glance(family.child_a)
    assert glance.total == 3 and glance.week_total == 3
    assert [(k, n) for k, _label, n in glance.by_category] == [("interests", 2), ("routines", 1)]
    assert [r.id for r in glance.blocked] == [bed.id] and glance.blocked_total == 1
    assert glance.last_used_at is not None
    assert len(glance.chart.bars) == WEEKS and glance.chart.bars[-1].count == 3 and glance.chart.total == 3
    assert glance.chart.bars[-1].height == glance.chart.PLOT  # the highest bar is full height
    later = child_glance(family.child_a, now=timezone.now() + timedelta(days=14))
    assert later.week_total == 0 and later.chart.bars[-3].count == 3 and later.chart.bars[-1].count == 0


def test_the_glance_page_shows_it_without_any_other_origin(family, gw, login):
    _memories(family)
    client = login(family.parent_a)
    response = client.get(reverse("memories:glance", args=[family.child_a.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and "3 memories learned in the last 12 weeks" in body
    assert "Rahul sleeps at nine" in body and "Mia has a cat" not in body
    assert "Interests" in body and "?category=interests" in body
    assert "http://" not in body and "https://" not in body
    assert client.get(reverse("memories:glance", args=[family.child_b.pk])).status_code == 404
    assert reverse("memories:glance", args=[family.child_a.pk]) in client.get(
        reverse("child_detail", args=[family.child_a.pk])).content.decode()


def test_an_empty_glance_says_so(family, gw, login):
    body = login(family.parent_b).get(reverse("memories:glance", args=[family.child_b.pk])).content.decode()
    assert "The toy does not remember anything yet." in body and "Nothing is rated 🚫." in body
