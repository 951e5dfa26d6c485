"""`make run`'s demo family: consent on record and a toy paired by code, so the demo
shows memories on first start; running it again changes nothing."""

import pytest
from django.core.management import call_command

from devices.models import Device, PairingCode
from memories import conversations

pytestmark = pytest.mark.django_db


def test_demo_family_has_consent_and_a_paired_toy_that_recalls(gw):
    call_command("seed_demo")
    call_command("seed_demo")
    device = Device.objects.select_related("child", "agent").get(mac="aa:bb:cc:00:00:01")
    assert PairingCode.objects.get(device=device).used_at is not None
    assert conversations.memory_off_reason(device, learning=True) == ""
    records, reason = conversations.context_for(device)
    assert reason == "" and len(records) == 6
    assert Device.objects.count() == 1
