"""Profile changes reach Mem0: exactly one profile memory per namespace, moves erase."""

from datetime import date

import pytest

from devices import services
from devices.profile import profile_text
from memories import sync
from memories.gateway import LEARNED_KIND, PROFILE_KIND, ListFilter
from memories.models import Outbox
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


def test_profile_is_written_into_every_device_of_the_child(family, gw):
    second = services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac(),
                                      child=family.child_a)
    sync.child_push(family.child_a)
    for device in (family.device_a, second):
        assert [m.text for m in profiles(gw, device.namespace)] == [profile_text(family.child_a)]


def test_moving_a_device_needs_confirmation(family):
    other = services.child_create(actor=family.parent_a, household=family.household_a, name="Meera",
                                  birth_date=date(2021, 2, 14))
    with pytest.raises(ApplicationError) as exc:
        services.device_assign(actor=family.parent_a, device=family.device_a, child=other)
    assert exc.value.field == "erase_confirmed"
    family.device_a.refresh_from_db()
    assert family.device_a.child == family.child_a


def test_moving_a_device_erases_what_it_learned_and_swaps_the_profile(family, gw):
    ns = family.device_a.namespace
    sync.child_push(family.child_a)
    gw.add(ns, "Rahul's secret hideout is behind the shed", {})
    other = services.child_create(actor=family.parent_a, household=family.household_a, name="Meera",
                                  birth_date=date(2021, 2, 14))
    device = services.device_assign(actor=family.parent_a, device=family.device_a, child=other,
                                     erase_confirmed=True)
    # Until the purge ran, the namespace is not the new child's.
    from devices.selectors import child_namespaces

    assert ns not in child_namespaces(other)
    sync.device_reset(device)
    device.refresh_from_db()
    assert not device.memory_reset_pending
    assert gw.list([ns], flt=ListFilter(kinds=(LEARNED_KIND,))).total == 0
    assert [m.text for m in profiles(gw, ns)] == [profile_text(other)]
    assert gw.traces(ns, marker="secret hideout")["marker_history"] == 0


def test_a_device_of_another_household_cannot_be_linked(family):
    with pytest.raises(ApplicationError):
        services.device_assign(actor=family.parent_a, device=family.device_a, child=family.child_b,
                               erase_confirmed=True)


@pytest.mark.worker
def test_saving_a_profile_reaches_mem0_through_the_worker(family, gw, worker):
    services.child_update(actor=family.parent_a, child=family.child_a, interests=["volcanoes"])
    ns = family.device_a.namespace
    found = wait_for(lambda: [m for m in profiles(gw, ns) if "volcanoes" in m.text], timeout=60)
    assert len(found) == 1
    wait_for(lambda: not Outbox.objects.filter(child=family.child_a).exclude(state=Outbox.State.DONE).exists())


@pytest.mark.worker
def test_a_push_survives_mem0_being_down(family, gw, start_worker, settings):
    # A worker whose Mem0 database cannot be reached: the push fails and is kept.
    broken = start_worker(MEM0_DATABASE_URL="postgresql://postgres@/nowhere?host=/nonexistent&connect_timeout=1")
    services.child_update(actor=family.parent_a, child=family.child_a, interests=["kites"])
    row = Outbox.objects.filter(child=family.child_a).latest("created_at")
    wait_for(lambda: Outbox.objects.get(pk=row.pk).state == Outbox.State.FAILED, timeout=90)
    failed = Outbox.objects.get(pk=row.pk)
    assert failed.attempts >= 1 and failed.last_error
    assert not [m for m in profiles(gw, family.device_a.namespace) if "kites" in m.text]
    broken.stop()
    # Mem0 is back: a healthy worker and the sweep finish the job.
    start_worker()
    settings.OUTBOX_STALE_SECONDS = 0
    from memories.tasks import outbox_sweep

    outbox_sweep()
    wait_for(lambda: Outbox.objects.get(pk=row.pk).state == Outbox.State.DONE, timeout=90)
    assert [m for m in profiles(gw, family.device_a.namespace) if "kites" in m.text]
