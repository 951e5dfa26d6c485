"""Inviting a second parent, accepting, removing; a parent asks for deletion."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from devices.models import Invitation, Membership
from memories.models import DeletionRequest
from portal.models import AuditEvent


def _invite(client, capture, email="grandpa@example.test") -> str:
    with capture(execute=True):  # the email leaves once the invitation is committed
        response = client.post(reverse("household:invite"), {"email": email})
    assert response.status_code == 302, response.content.decode()
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/household/join/" in line)
    return link.split("testserver", 1)[1]


def test_invite_a_new_parent_who_sets_a_password(family, login, client, django_capture_on_commit_callbacks):
    parent = login(family.parent_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = parent.post(reverse("household:invite"), {"email": "Grandpa@Example.test"})
    assert response.status_code == 302 and mail.outbox[-1].to == ["grandpa@example.test"]
    path = next(line for line in mail.outbox[-1].body.splitlines() if "/household/join/" in line).split("testserver")[1]
    invitation = Invitation.objects.get(household=family.household_a, email="grandpa@example.test")
    assert path.rstrip("/").rsplit("/", 1)[-1] not in invitation.token_hash  # only the hash is stored
    parent.post(reverse("logout"))
    page = client.get(path)
    assert page.status_code == 200 and "Choose a password" in page.content.decode()
    weak = client.post(path, {"password1": "short", "password2": "short"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    good = client.post(path, {"password1": "Long-enough-passphrase-7", "password2": "Long-enough-passphrase-7"})
    assert good.status_code == 302
    user = User.objects.get(username="grandpa@example.test")
    assert family.household_a.memberships.filter(user=user, role="parent").exists()
    assert client.get(reverse("child_detail", args=[family.child_a.pk])).status_code == 200
    assert client.get(path).status_code == 404  # used once


def test_an_existing_user_logs_in_then_accepts(family, login, django_capture_on_commit_callbacks):
    client = login(family.parent_a)
    path = _invite(client, django_capture_on_commit_callbacks, family.parent_b.email)
    client.post(reverse("logout"))
    page = client.get(path)
    assert "Log in to accept" in page.content.decode()
    login(family.parent_a2)  # the wrong account
    wrong = client.post(path)
    assert wrong.status_code == 400 and "was sent to" in wrong.content.decode()
    login(family.parent_b)
    assert client.post(path).status_code == 302
    assert family.household_a.memberships.filter(user=family.parent_b).exists()


def test_an_expired_invitation_cannot_be_used(family, login, django_capture_on_commit_callbacks):
    client = login(family.parent_a)
    path = _invite(client, django_capture_on_commit_callbacks, family.parent_b.email)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    login(family.parent_b)
    assert client.get(path).status_code == 404 and client.post(path).status_code == 404
    assert client.get("/household/join/not-a-token/").status_code == 404
    assert not family.household_a.memberships.filter(user=family.parent_b).exists()


def test_bad_email_is_a_form_error(family, login):
    response = login(family.parent_a).post(reverse("household:invite"), {"email": "not an email"})
    assert response.status_code == 400 and "valid email" in response.content.decode()
    member = login(family.parent_a).post(reverse("household:invite"), {"email": family.parent_a2.email})
    assert member.status_code == 400 and "already a member" in member.content.decode()


def test_remove_the_second_parent_but_not_the_owner_or_yourself(family, login):
    a2 = family.household_a.memberships.get(user=family.parent_a2)
    owner = family.household_a.memberships.get(user=family.parent_a)
    client = login(family.parent_a2)
    client.post(reverse("household:member_remove", args=[owner.pk]), {"confirmed": "yes"})
    client.post(reverse("household:member_remove", args=[a2.pk]), {"confirmed": "yes"})
    assert Membership.objects.filter(pk__in=[owner.pk, a2.pk]).count() == 2
    assert login(family.parent_b).post(reverse("household:member_remove", args=[a2.pk]),
                                       {"confirmed": "yes"}).status_code == 404
    assert login(family.parent_a).post(reverse("household:member_remove", args=[a2.pk]),
                                       {"confirmed": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=a2.pk).exists()
    assert AuditEvent.objects.filter(action="household.member_remove").exists()
    assert login(family.parent_a2).get(reverse("child_detail", args=[family.child_a.pk])).status_code == 404


def test_a_parent_asks_for_deletion_and_follows_it(family, login):
    client = login(family.parent_a)
    assert client.get(reverse("privacy:deletion_new")).status_code == 200
    missing = client.post(reverse("privacy:deletion_new"), {"scope": "child", "confirm": "on"})
    assert missing.status_code == 200 and "Choose a child" in missing.content.decode()
    response = client.post(reverse("privacy:deletion_new"),
                           {"scope": "child", "child": family.child_a.pk, "confirm": "on"})
    req = DeletionRequest.objects.get(household=family.household_a)
    assert response.status_code == 302 and req.channel == "portal" and req.requested_by == family.parent_a
    page = client.get(response["Location"]).content.decode()
    assert "Received" in page and "Rahul" in page
    assert f"#{req.pk}" in login(family.parent_a2).get(reverse("privacy:overview")).content.decode()
    assert login(family.parent_b).get(response["Location"]).status_code == 404
