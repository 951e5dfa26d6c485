"""Closing a household: by a parent (confirmed by its name) or after long inactivity; memory
stops at once, parents get a notice with a final export link, everything is erased through
the one erase path after the notice period, and each parent gets the receipt by email."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from devices.models import ChildProfile, Device, Household
from memories import conversations, lifecycle
from memories.models import Erasure
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url

fleet, toy = conftest_api.fleet, conftest_api.toy


def off(device):
    device = Device.objects.select_related("agent", "child__household").get(pk=device.pk)
    return conversations._off_reason(device.agent, device.child)
pytestmark = pytest.mark.django_db


def test_a_parent_closes_memory_stops_then_everything_is_erased_with_a_receipt(
        family, gw, login, toy, django_capture_on_commit_callbacks, settings):
    settings.HOUSEHOLD_CLOSE_NOTICE_DAYS = 14
    gw.add(family.child_a.namespace, "Rahul likes kites", {"kind": "learned"})
    parent = login(family.parent_a)
    assert parent.post("/household/keeping/close/", {"confirmation": "family a"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        assert parent.post("/household/keeping/close/", {"confirmation": "Family A"}).status_code == 302
    household = Household.objects.get(pk=family.household_a.pk)
    assert household.close_reason == "parent" and household.erase_after - household.closed_at == timedelta(days=14)
    assert toy.get(api_url(family.device_a.mac, "memory-context")).json()["reason"] == "closed"
    notices = mail.outbox[-2:]  # one to each parent, in their language
    assert {m.to[0] for m in notices} == {family.parent_a.email, family.parent_a2.email}
    for notice in notices:
        assert f"/children/{family.child_a.pk}/memories/export/" in notice.body
        assert "Rahul likes kites" not in notice.body

    assert lifecycle.households_sweep(now=household.erase_after - timedelta(seconds=1))["erased"] == 0
    assert ChildProfile.objects.filter(pk=family.child_a.pk).exists()
    result = lifecycle.households_sweep(now=household.erase_after)
    assert result["erased"] == 1 and result["receipts"] == 1
    assert not Household.objects.filter(pk=family.household_a.pk).exists()
    assert not Device.objects.filter(pk=family.device_a.pk).exists()
    assert gw.count([family.child_a.namespace]) == 0
    erasure = Erasure.objects.get(origin="closed_parent")
    receipts = mail.outbox[-2:]
    assert {m.to[0] for m in receipts} == {family.parent_a.email, family.parent_a2.email}
    assert all(erasure.reference in receipt.subject for receipt in receipts)
    assert "emailed_at" in Erasure.objects.get(pk=erasure.pk).receipt
    # the parent can still read the receipt; a re-run sends nothing more
    assert "Receipt" in parent.get(f"/household/privacy/erasures/{erasure.reference}/").content.decode()
    assert lifecycle.households_sweep(now=household.erase_after) == {"closed": 0, "reopened": 0, "erased": 0,
                                                                      "receipts": 0}
    assert Household.objects.filter(pk=family.household_b.pk).exists()


def test_reopening_before_the_date_keeps_everything(family, login):
    parent = login(family.parent_a)
    parent.post("/household/keeping/close/", {"confirmation": "Family A"})
    assert off(family.device_a) == "closed"
    parent.post("/household/keeping/reopen/")
    household = Household.objects.get(pk=family.household_a.pk)
    assert household.closed_at is None and household.erase_after is None
    assert lifecycle.households_sweep(now=timezone.now() + timedelta(days=60))["erased"] == 0
    assert off(family.device_a) == ""


def test_an_inactive_household_is_closed_with_notice_and_reopened_when_a_parent_returns(
        family, settings, django_capture_on_commit_callbacks):
    settings.HOUSEHOLD_INACTIVE_DAYS, settings.HOUSEHOLD_INACTIVE_NOTICE_DAYS = 30, 10
    later = timezone.now() + timedelta(days=31)
    with django_capture_on_commit_callbacks(execute=True):
        result = lifecycle.households_sweep(now=later)
    assert result["closed"] == 2  # neither family logged in nor had a toy seen since
    a = Household.objects.get(pk=family.household_a.pk)
    assert a.close_reason == "inactive" and a.erase_after == later + timedelta(days=10)
    assert "nobody used it for 30 days" in mail.outbox[0].body
    family.parent_a.last_login = later + timedelta(days=1)  # a parent came back
    family.parent_a.save(update_fields=["last_login"])
    assert lifecycle.households_sweep(now=later + timedelta(days=2))["reopened"] == 1
    assert Household.objects.get(pk=family.household_a.pk).closed_at is None
    assert lifecycle.households_sweep(now=later + timedelta(days=10))["erased"] == 1  # B only
    assert not Household.objects.filter(pk=family.household_b.pk).exists()


def test_the_retention_choice_is_saved_and_offered(family, login):
    parent = login(family.parent_a)
    page = parent.get("/household/keeping/").content.decode()
    assert "12 months" in page and "Until I delete them" in page
    assert parent.post("/household/keeping/retention/", {"months": "6"}).status_code == 302
    assert Household.objects.get(pk=family.household_a.pk).retention_months == 6
    parent.post("/household/keeping/retention/", {"months": ""})
    assert Household.objects.get(pk=family.household_a.pk).retention_months is None
    assert parent.post("/household/keeping/retention/", {"months": "7"}).status_code == 400
