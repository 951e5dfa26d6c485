import pytest
from django.urls import reverse


def test_parent_sees_their_children_and_child_page(family, login):
    client = login(family.parent_a)
    home = client.get(reverse("home"))
    assert home.status_code == 200 and "Rahul" in home.content.decode() and "Mia" not in home.content.decode()
    page = client.get(reverse("child_detail", args=[family.child_a.pk]))
    assert page.status_code == 200
    assert "Late Elementary" in page.content.decode()


def test_parent_cannot_open_another_households_child(family, login):
    client = login(family.parent_a)
    for name in ("child_detail", "child_edit", "child_sync"):
        assert client.get(reverse(name, args=[family.child_b.pk])).status_code == 404
    assert client.get(reverse("memories:list", args=[family.child_b.pk])).status_code == 404


def test_anonymous_is_sent_to_login(client, family):
    response = client.get(reverse("child_detail", args=[family.child_a.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_second_parent_of_the_household_sees_the_child(family, login):
    assert login(family.parent_a2).get(reverse("child_detail", args=[family.child_a.pk])).status_code == 200


def test_profile_form_errors_are_shown_not_500(family, login):
    client = login(family.parent_a)
    response = client.post(reverse("child_edit", args=[family.child_a.pk]), {"name": "", "birth_date": "2090-01-01"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required" in body or "Enter the child" in body


def test_device_form_rejects_a_bad_mac(family, login):
    response = login(family.support).post(reverse("staff_device_add"), {"household": family.household_a.pk,
                                                                        "mac": "zz:zz", "name": "x"})
    assert response.status_code == 400 and "MAC address" in response.content.decode()


@pytest.mark.parametrize("mac", ["AA-BB-CC-DD-EE-0F"])
def test_device_registration_normalises_the_mac(family, login, mac):
    response = login(family.support).post(reverse("staff_device_add"), {"household": family.household_a.pk,
                                                                        "mac": mac, "name": "New toy"})
    assert response.status_code == 302
    assert family.household_a.devices.filter(mac="aa:bb:cc:dd:ee:0f").exists()


def test_memory_list_shows_the_childs_memories_newest_first(family, gw, login):
    ns = family.device_a.namespace
    gw.add(ns, "first fact", {})
    gw.add(ns, "second fact", {})
    gw.add(family.device_b.namespace, "other family's fact", {})
    body = login(family.parent_a).get(reverse("memories:list", args=[family.child_a.pk])).content.decode()
    assert body.index("second fact") < body.index("first fact")
    assert "other family" not in body
