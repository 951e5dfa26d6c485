"""Login limiting, password reset by email, security settings, and check --deploy."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core import mail
from django.urls import reverse

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_five_failures_lock_the_login_for_that_user_and_address(family, client):
    url = reverse("login")
    for _ in range(5):
        response = client.post(url, {"username": family.parent_a.username, "password": "wrong-password-1"})
        assert response.status_code == 200
    locked = client.post(url, {"username": family.parent_a.username, "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session  # even the right password waits
    other = client.post(url, {"username": family.parent_b.username, "password": PASSWORD})
    assert other.status_code == 302  # another account is not affected


def test_a_success_resets_the_counter(family, client):
    url = reverse("login")
    for _ in range(4):
        client.post(url, {"username": family.parent_a.username, "password": "nope-nope-1"})
    assert client.post(url, {"username": family.parent_a.username, "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        client.post(url, {"username": family.parent_a.username, "password": "nope-nope-1"})
    assert client.post(url, {"username": family.parent_a.username, "password": PASSWORD}).status_code == 302


def test_password_reset_by_email(family, client):
    form = client.get(reverse("password_reset"))
    assert form.status_code == 200 and "Reset your password" in form.content.decode()
    response = client.post(reverse("password_reset"), {"email": family.parent_a.email})
    assert response.status_code == 302 and "Check your email" in client.get(response["Location"]).content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [family.parent_a.email]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link.split("testserver", 1)[1]
    page = client.get(path, follow=True)
    assert "Choose a new password" in page.content.decode()
    weak = client.post(page.redirect_chain[-1][0], {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    strong = "a-much-Longer-passphrase-42"
    done = client.post(page.redirect_chain[-1][0], {"new_password1": strong, "new_password2": strong})
    assert done.status_code == 302
    assert client.login(username=family.parent_a.username, password=strong)


def test_session_and_cookie_settings():
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_HTTPONLY
    validators = [v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert {"MinimumLengthValidator", "CommonPasswordValidator", "NumericPasswordValidator"} <= set(validators)


def test_pages_carry_csp_and_the_htmx_csrf_header(family, login):
    response = login(family.parent_a).get(reverse("household:detail"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    body = response.content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    assert "<script>" not in body and " style=" not in body and "<style" not in body


def test_templates_have_no_inline_scripts_or_styles():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if "<script>" in text or "<style" in text or " style=" in text or " onclick=" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


def test_check_deploy_is_clean_with_production_settings():
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50)[:50],
           "ALLOWED_HOSTS": "portal.example.com", "DATABASE_URL": settings.DATABASE_URL,
           "CELERY_BROKER_URL": "redis://localhost:6379/0"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright in tests/browser, never in production
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output and "WARNING" not in output, output


# -- every spelling Django logs in with shares one counter ------------------------------------

FULL_WIDTH_P = "\uff50"  # "ｐ": NFKC makes it "p", as Django's login form does before authenticating


def test_a_full_width_spelling_of_a_locked_username_is_locked_too(family, client):
    url, name = reverse("login"), family.parent_a.username
    variant = FULL_WIDTH_P + name[1:]
    assert name.startswith("p") and variant != name
    for _ in range(5):
        client.post(url, {"username": name, "password": "wrong-password-1"})
    locked = client.post(url, {"username": variant, "password": PASSWORD})
    assert locked.status_code == 429 and "_auth_user_id" not in client.session


def test_guesses_under_different_spellings_add_up(family, client):
    url, name = reverse("login"), family.parent_a.username
    for spelling in (name, f"  {name} ", FULL_WIDTH_P + name[1:], name.upper(), name):
        client.post(url, {"username": spelling, "password": "wrong-password-1"})
    assert client.post(url, {"username": name, "password": PASSWORD}).status_code == 429


# -- password reset requests are throttled per address and per client address -----------------

def _reset(client, email, ip="127.0.0.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_is_throttled_per_address_without_telling_who_exists(family, client):
    for email in (family.parent_a.email, "nobody@example.test"):
        statuses = [_reset(client, email).status_code for _ in range(3)]
        assert statuses == [302, 302, 302]
        refused = _reset(client, email)
        assert refused.status_code == 429
        assert "Too many requests for a new password" in refused.content.decode()
    # The same wording, whether the account exists or not (no enumeration).
    def page(email):
        body = _reset(client, email).content.decode().replace(email, "X")
        return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', "", body)  # masked anew each time

    assert page(family.parent_a.email) == page("nobody@example.test")
    assert len(mail.outbox) == 3  # the refused requests sent nothing
    # Other spellings of the address are the same address.
    assert _reset(client, " " + family.parent_a.email.upper()).status_code == 429
    assert _reset(client, family.parent_b.email).status_code == 302  # another address is not affected


def test_password_reset_is_throttled_per_client_address(family, client):
    for i in range(20):
        assert _reset(client, f"someone{i}@example.test", ip="203.0.113.9").status_code == 302
    assert _reset(client, family.parent_a.email, ip="203.0.113.9").status_code == 429
    assert _reset(client, family.parent_a.email, ip="203.0.113.10").status_code == 302
    assert len(mail.outbox) == 1
