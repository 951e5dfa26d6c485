"""Sign-up with email verification (django-allauth) gives a parent a household; staff work
only with a second factor (TOTP), asked at login; emails go through Django's backend and
production settings refuse a backend that writes live links to a log."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail

from devices.models import Household
from tests.conftest import PASSWORD, STAFF_TOTP_SECRET, make_user, totp_code

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db
NEW = "new.parent@example.test"
STRONG = "a-very-Long-passphrase-77"


def sign_up(client, email=NEW):
    return client.post("/accounts/signup/", {"email": email, "password1": STRONG, "password2": STRONG})


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", message.body).group(1)


def test_sign_up_verify_by_link_and_get_a_household(client):
    response = sign_up(client)
    assert response.status_code == 302 and response.url == "/accounts/confirm-email/"
    user = User.objects.get(email=NEW)
    assert user.username == NEW and not client.session.get("_auth_user_id")
    assert Household.objects.get(memberships__user=user, memberships__role="owner")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [NEW]
    # logging in before the address is confirmed only sends the link again
    again = client.post("/accounts/login/", {"username": NEW, "password": STRONG})
    assert again.status_code == 302 and again.url == "/accounts/confirm-email/" and "_auth_user_id" not in client.session
    page = client.get(link_in(mail.outbox[0]))
    assert page.status_code == 200 and "Confirm" in page.content.decode()
    confirmed = client.post(link_in(mail.outbox[0]))
    assert confirmed.status_code == 302
    assert client.post("/accounts/login/", {"username": NEW, "password": STRONG}).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert "Your children" in client.get("/").content.decode()


def test_sign_up_refuses_a_weak_password_and_a_taken_address(client, family):
    weak = client.post("/accounts/signup/", {"email": NEW, "password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 200 and not User.objects.filter(email=NEW).exists()
    taken = sign_up(client, family.parent_a.email)
    # no enumeration: the same answer as a new address; the owner is told by email instead
    assert taken.status_code == 302 and User.objects.filter(email=family.parent_a.email).count() == 1


def test_staff_log_in_with_their_second_factor(client, family):
    response = client.post("/accounts/login/", {"username": family.support.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith("/accounts/2fa/authenticate/")
    assert "_auth_user_id" not in client.session
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    assert client.post("/accounts/2fa/authenticate/", {"code": totp_code(STAFF_TOTP_SECRET)}).status_code == 302
    assert client.session["_auth_user_id"] == str(family.support.pk)
    assert client.get("/support/").status_code == 200


def test_staff_without_a_second_factor_must_set_one_up_first(client, db):
    support = make_user("new.support@example.test", group="Support")
    Authenticator.objects.filter(user=support).delete()
    client.force_login(support)
    response = client.get("/support/")
    assert response.status_code == 302 and response.url == "/accounts/2fa/totp/activate/"
    admin = make_user("new.admin@example.test", group="Admin", superuser=True)
    Authenticator.objects.filter(user=admin).delete()
    client.force_login(admin)
    assert client.get("/admin/").url == "/accounts/2fa/totp/activate/"


def test_the_admin_site_login_is_ours(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_production_settings_refuse_an_email_backend_that_logs_links():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "PORTAL_EMBEDDED": "false",
           "ALLOWED_HOSTS": "portal.example.com", "DATABASE_URL": settings.DATABASE_URL,
           "CELERY_BROKER_URL": "redis://localhost:6379/0",
           "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    result = subprocess.run([sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
                             "'portal.settings'; django.setup()"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "writes live sign-in links to a log" in result.stderr
