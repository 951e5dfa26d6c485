"""Profile changes reach Mem0: exactly one profile memory per child; moves take nothing along."""

from datetime import date

import pytest
from django.utils import timezone

from devices import services
from devices.models import ProfileSync
from devices.profile import profile_text
from memories import sync
from memories.gateway import LEARNED_KIND, PROFILE_KIND, ListFilter
from portal.errors import ApplicationError
from tests.conftest import unique_mac, wait_for


def profiles(gw, namespace):
    return gw.list([namespace], flt=ListFilter(kinds=(PROFILE_KIND,))).items


def test_twenty_edits_leave_exactly_one_profile_memory(family, gw):
    ns = family.device_a.namespace
    for i in range(20):
        child = services.child_update(actor=family.parent_a, child=family.child_a, interests=[f"hobby {i}"])
        sync.child_push(child)
    items = profiles(gw, ns)
    assert len(items) == 1
    assert items[0].text.endswith("Interests: hobby 19")
    assert items[0].metadata["child_id"] == family.child_a.pk


def test_one_profile_memory_per_child_however_many_toys(family, gw):
    second = services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac(),
                                      child=family.child_a)
    sync.child_push(family.child_a)
    sync.child_push(family.child_a)
    assert family.device_a.namespace == second.namespace == family.child_a.namespace
    assert [m.text for m in profiles(gw, family.child_a.namespace)] == [profile_text(family.child_a)]


def test_moving_a_device_takes_nothing_with_it(family, gw):
    ns = family.child_a.namespace
    sync.child_push(family.child_a)
    gw.add(ns, "Rahul's secret hideout is behind the shed", {})
    other = services.child_create(actor=family.parent_a, household=family.household_a, name="Meera",
                                  birth_date=date(2021, 2, 14))
    device = services.device_assign(actor=family.parent_a, device=family.device_a, child=other)
    sync.child_push(other)
    assert device.namespace == other.namespace != ns
    assert gw.list([other.namespace], flt=ListFilter(kinds=(LEARNED_KIND,))).total == 0
    assert [m.text for m in profiles(gw, other.namespace)] == [profile_text(other)]
    # Rahul's memories stay Rahul's.
    assert gw.list([ns], flt=ListFilter(kinds=(LEARNED_KIND,))).total == 1


def test_a_device_of_another_household_cannot_be_linked(family):
    with pytest.raises(ApplicationError):
        services.device_assign(actor=family.parent_a, device=family.device_a, child=family.child_b)


@pytest.mark.worker
def test_saving_a_profile_reaches_mem0_through_the_worker(family, gw, worker):
    services.child_update(actor=family.parent_a, child=family.child_a, interests=["volcanoes"])
    ns = family.device_a.namespace
    found = wait_for(lambda: [m for m in profiles(gw, ns) if "volcanoes" in m.text], timeout=60)
    assert len(found) == 1
    wait_for(lambda: not ProfileSync.objects.filter(child=family.child_a).exclude(state=ProfileSync.State.DONE).exists())


@pytest.mark.worker
def test_a_push_survives_mem0_being_down(family, gw, start_worker):
    # A worker whose Mem0 database cannot be reached: the push fails and is kept.
    broken = start_worker(MEM0_DATABASE_URL="postgresql://postgres@/nowhere?host=/nonexistent&connect_timeout=1")
    services.child_update(actor=family.parent_a, child=family.child_a, interests=["kites"])
    row = ProfileSync.objects.filter(child=family.child_a).latest("created_at")
    wait_for(lambda: ProfileSync.objects.get(pk=row.pk).state == ProfileSync.State.FAILED, timeout=90)
    failed = ProfileSync.objects.get(pk=row.pk)
    assert failed.attempts >= 1 and failed.last_error
    assert not [m for m in profiles(gw, family.device_a.namespace) if "kites" in m.text]
    broken.stop()
    # Mem0 is back: a healthy worker and the sweep finish the job once the backoff ran out.
    start_worker()
    ProfileSync.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    from memories.tasks import outbox_sweep

    assert outbox_sweep() >= 1
    wait_for(lambda: ProfileSync.objects.get(pk=row.pk).state == ProfileSync.State.DONE, timeout=90)
    assert [m for m in profiles(gw, family.device_a.namespace) if "kites" in m.text]
