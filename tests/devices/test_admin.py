from datetime import date

from django.urls import reverse

from devices import services
from devices.models import ProfileSync


def test_moving_a_device_in_the_admin_goes_through_the_same_service(family, login):
    other = services.child_create(actor=family.parent_a, household=family.household_a, name="Meera",
                                  birth_date=date(2021, 2, 14))
    device = family.device_a
    response = login(family.admin).post(reverse("admin:devices_device_change", args=[device.pk]), {
        "mac": device.mac.upper(), "name": device.name, "household": device.household_id, "child": other.pk,
        "agent": device.agent_id, "last_seen_at_0": "", "last_seen_at_1": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    device.refresh_from_db()
    assert device.child == other and device.namespace == other.namespace
    assert ProfileSync.objects.filter(child=other).exists()
