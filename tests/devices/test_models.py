from datetime import date

import pytest
from django.core.exceptions import ValidationError

from devices.models import ChildProfile, age_group_for, age_on, normalize_mac
from devices.profile import profile_text


@pytest.mark.parametrize("raw", ["AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", "aabbccddeeff", " AABBCCDDEEFF ",
                                 "Aa:Bb:cC:dD:eE:Ff"])
def test_mac_forms_normalise_to_lower_colon(raw):
    assert normalize_mac(raw) == "aa:bb:cc:dd:ee:ff"


@pytest.mark.parametrize("raw", ["", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "gg:bb:cc:dd:ee:ff",
                                 "aa-bb:cc-dd:ee-ff", "aabbccddeef", "hello", "aa bb cc dd ee ff"])
def test_malformed_macs_are_rejected_with_a_clear_message(raw):
    with pytest.raises(ValidationError) as exc:
        normalize_mac(raw)
    assert "MAC address" in exc.value.messages[0]


@pytest.mark.parametrize("age,group", [(0, "Toddler"), (2, "Toddler"), (3, "Preschool"), (5, "Preschool"),
                                       (6, "Early Elementary"), (8, "Early Elementary"),
                                       (9, "Late Elementary"), (11, "Late Elementary"), (12, "Preteen"),
                                       (13, "Preteen"), (14, "Teen"), (17, "Teen")])
def test_age_groups(age, group):
    assert age_group_for(age) == group


def test_age_changes_on_the_birthday_not_before():
    born = date(2017, 5, 10)
    assert age_on(born, date(2026, 5, 9)) == 8
    assert age_on(born, date(2026, 5, 10)) == 9


def test_profile_text_is_what_the_toy_servers_expect():
    child = ChildProfile(name="Rahul", birth_date=date(date.today().year - 9, 1, 1), gender="male",
                         interests=["games", "sports", "science"])
    assert profile_text(child) == (
        "Child Profile - Name: Rahul, Age: 9, Age Group: Late Elementary, Gender: male, "
        "Interests: games, sports, science"
    )


def test_profile_text_leaves_out_what_is_not_set_and_adds_the_note():
    child = ChildProfile(name="Mia", birth_date=date(date.today().year - 4, 1, 1), toy_note="calls grandma Nani")
    assert profile_text(child) == "Child Profile - Name: Mia, Age: 4, Age Group: Preschool, Note: calls grandma Nani"
