"""Each person's time zone (detected in the browser, changeable) and language (the browser's,
changeable with the switch under every page); every time shown in the zone, in one format."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from portal import dates
from portal.models import AuditEvent, Preferences
from tests.conftest import PASSWORD


def _event_at(family, moment: datetime) -> AuditEvent:
    event = AuditEvent.objects.create(actor=family.parent_a, actor_role="parent", household=family.household_a,
                                      child_id=family.child_a.pk, child_name="Rahul", action="child.update")
    AuditEvent.objects.filter(pk=event.pk).update(created_at=moment)
    return event


def test_times_are_shown_in_the_parents_zone_with_its_name(family, client):
    Preferences.objects.create(user=family.parent_a, time_zone="Asia/Kolkata")
    _event_at(family, datetime(2026, 3, 5, 20, 0, tzinfo=UTC))
    client.force_login(family.parent_a)
    body = client.get(reverse("memories:activity")).content.decode()
    assert "6 Mar 2026, 01:30 IST" in body  # 20:00 UTC is 01:30 the next day in India
    assert "2026-03-05 20:00" not in body


def test_the_browsers_zone_is_taken_at_the_first_login_and_kept(family, client):
    client.cookies["tz"] = "Asia/Shanghai"
    response = client.post(reverse("login"), {"username": family.parent_a.username, "password": PASSWORD})
    assert response.status_code == 302
    assert Preferences.objects.get(user=family.parent_a).time_zone == "Asia/Shanghai"
    _event_at(family, datetime(2026, 3, 5, 20, 0, tzinfo=UTC))
    assert "6 Mar 2026, 04:00 CST" in client.get(reverse("memories:activity")).content.decode()
    client.cookies["tz"] = "Europe/Paris"  # travelling: the account's zone stays until changed
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": family.parent_a.username, "password": PASSWORD})
    assert Preferences.objects.get(user=family.parent_a).time_zone == "Asia/Shanghai"


def test_a_zone_that_does_not_exist_is_ignored(family, client):
    client.cookies["tz"] = "Mars/Olympus_Mons"
    client.force_login(family.parent_a)
    _event_at(family, datetime(2026, 3, 5, 20, 0, tzinfo=UTC))
    assert "5 Mar 2026, 20:00 UTC" in client.get(reverse("memories:activity")).content.decode()
    assert Preferences.objects.get(user=family.parent_a).time_zone == ""


def test_the_account_page_changes_zone_language_and_digest(family, login):
    client = login(family.parent_a)
    page = client.get(reverse("account"))
    assert page.status_code == 200 and "Asia/Kolkata" in page.content.decode()
    response = client.post(reverse("account"), {"time_zone": "Asia/Kolkata", "language": "hi", "digest_weekly": "on"})
    assert response.status_code == 302 and response["Location"] == reverse("account")  # PRG
    prefs = Preferences.objects.get(user=family.parent_a)
    assert (prefs.time_zone, prefs.language, prefs.digest_weekly) == ("Asia/Kolkata", "hi", True)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "hi"
    page = client.get(reverse("account"))
    assert page["Content-Language"] == "hi"
    assert client.post(reverse("account"), {"time_zone": "Nowhere/City", "language": ""}).status_code == 200
    assert Preferences.objects.get(user=family.parent_a).time_zone == "Asia/Kolkata"


def test_staff_have_no_digest_choice(family, login):
    body = login(family.support).get(reverse("account")).content.decode()
    assert "digest_weekly" not in body and "time_zone" in body


def test_the_language_switch_works_logged_out_and_is_kept_for_the_account(family, client):
    response = client.post(reverse("language"), {"language": "zh-hans", "next": "/accounts/login/"})
    assert response.status_code == 303 and response["Location"] == "/accounts/login/"
    assert client.get("/accounts/login/")["Content-Language"] == "zh-hans"
    client.force_login(family.parent_a)
    response = client.post(reverse("language"), {"language": "hi", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")  # never off-site
    assert Preferences.objects.get(user=family.parent_a).language == "hi"


def test_the_browsers_language_is_used_until_one_is_chosen(family, client):
    client.force_login(family.parent_a)
    assert client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")["Content-Language"] == "zh-hans"
    assert client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="hi-IN")["Content-Language"] == "hi"
    assert client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="fr-FR")["Content-Language"] == "en"


@pytest.mark.parametrize(("zone", "expected"), [("UTC", "5 Mar 2026, 20:00 UTC"),
                                                 ("Asia/Kolkata", "6 Mar 2026, 01:30 IST")])
def test_one_format_for_a_moment_and_a_day(zone, expected):
    moment = datetime(2026, 3, 5, 20, 0, tzinfo=UTC)
    with timezone.override(zone), translation.override("en"):
        assert dates.when(moment) == expected
        assert dates.day(moment) == expected.split(",")[0]
