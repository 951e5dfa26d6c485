"""Login with a brake on guessing: after ``LOGIN_MAX_FAILURES`` failed attempts for one
username from one address (or ``LOGIN_MAX_FAILURES_PER_USER`` from anywhere) within
``LOGIN_FAILURE_WINDOW`` seconds, the form refuses to check passwords until the window
has passed. Password-reset requests have their own brake, per address and per client.
Counters live in the shared cache, so every web process sees them.

A username is counted as Django's login form cleans it before authenticating (stripped,
NFKC: ``UsernameField``), then casefolded: "ｐarent@…" (a full-width p) logs in as
"parent@…", so both spellings share one counter. (django-axes was considered and not
adopted: see the README, "Login and password reset limits".)"""

import hashlib
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UsernameField
from django.core.cache import cache

from portal.access import public

LOGIN_MAX_FAILURES = getattr(settings, "LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_USER = getattr(settings, "LOGIN_MAX_FAILURES_PER_USER", 20)
LOGIN_FAILURE_WINDOW = getattr(settings, "LOGIN_FAILURE_WINDOW", 15 * 60)
LOCKED_MESSAGE = ("Too many failed attempts. For your child's safety, logging in to this account is "
                  "paused for 15 minutes. You can reset your password meanwhile.")
RESET_MAX_PER_ADDRESS = getattr(settings, "PASSWORD_RESET_MAX_PER_ADDRESS", 3)
RESET_MAX_PER_CLIENT = getattr(settings, "PASSWORD_RESET_MAX_PER_CLIENT", 20)
RESET_WINDOW = getattr(settings, "PASSWORD_RESET_WINDOW", 60 * 60)
RESET_THROTTLED_MESSAGE = ("Too many requests for a new password. Please wait an hour before asking again; "
                           "if the address belongs to an account, the links already sent still work.")


def client_ip(request) -> str:
    """The client's address; behind a trusted proxy (BEHIND_PROXY), the first forwarded one."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


def login_name(raw: str) -> str:
    """The account a typed username reaches: Django's own cleaning, then casefolded."""
    max_length = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length
    return UsernameField(max_length=max_length).to_python(raw or "").strip().casefold()


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()  # no emails or addresses in cache keys


def _count(key: str, window: int) -> None:
    if not cache.add(key, 1, window):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, window)


def _keys(username: str, ip: str) -> tuple[str, str]:
    name = login_name(username)
    return f"login-fail:{_digest(name + '|' + ip)}", f"login-fail-user:{_digest(name)}"


def login_locked(username: str, ip: str) -> bool:
    pair, user = _keys(username, ip)
    counts = cache.get_many([pair, user])
    return counts.get(pair, 0) >= LOGIN_MAX_FAILURES or counts.get(user, 0) >= LOGIN_MAX_FAILURES_PER_USER


def login_failed(username: str, ip: str) -> None:
    for key in _keys(username, ip):
        _count(key, LOGIN_FAILURE_WINDOW)


def login_succeeded(username: str, ip: str) -> None:
    cache.delete(_keys(username, ip)[0])


class RateLimitedLoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username, ip = request.POST.get("username", ""), client_ip(request)
        if login_locked(username, ip):
            # An unbound form: the password is not even checked while locked.
            form = self.form_class(request, initial={"username": username})
            context = self.get_context_data(form=form, locked_message=LOCKED_MESSAGE)
            return self.render_to_response(context, status=429)
        form = self.get_form()
        if not form.is_valid():
            login_failed(username, ip)
            return self.form_invalid(form)
        login_succeeded(username, ip)
        return self.form_valid(form)

    def form_valid(self, form):
        """The password is right: django-allauth's login stages take over (a parent who
        signed up and has not verified the address gets the link again; anyone with a
        second factor is asked for it), then the session starts. Accounts made by staff
        or by an invitation link have no address record to verify."""
        from allauth.account.internal.flows.login import record_authentication
        from allauth.account.models import EmailAddress
        from allauth.account.utils import perform_login

        user = form.get_user()
        record_authentication(self.request, user, method="password", email=user.email)
        verification = None if EmailAddress.objects.filter(user=user).exists() else "none"
        return perform_login(self.request, user, email_verification=verification,
                             redirect_url=self.get_success_url(), email=user.email or None)


login_view = public(RateLimitedLoginView.as_view())


def _reset_keys(email: str, ip: str) -> tuple[str, str]:
    # PasswordResetForm matches addresses by NFKC + casefold: count them the same way.
    address = unicodedata.normalize("NFKC", (email or "").strip()).casefold()
    return f"reset-addr:{_digest(address)}", f"reset-client:{_digest(ip)}"


def password_reset_allowed(email: str, ip: str) -> bool:
    """Count one request; False when the address or the client asked too often. Known and
    unknown addresses count alike, so the answer tells nobody whether an account exists."""
    by_address, by_client = _reset_keys(email, ip)
    counts = cache.get_many([by_address, by_client])
    if counts.get(by_address, 0) >= RESET_MAX_PER_ADDRESS or counts.get(by_client, 0) >= RESET_MAX_PER_CLIENT:
        return False
    for key in (by_address, by_client):
        _count(key, RESET_WINDOW)
    return True


class RateLimitedPasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form):
        if not password_reset_allowed(form.cleaned_data["email"], client_ip(self.request)):
            context = self.get_context_data(form=form, throttled_message=RESET_THROTTLED_MESSAGE)
            return self.render_to_response(context, status=429)
        return super().form_valid(form)


password_reset_view = public(RateLimitedPasswordResetView.as_view())
