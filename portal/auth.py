"""Login with a brake on guessing: after ``LOGIN_MAX_FAILURES`` failed attempts for one
username from one address (or ``LOGIN_MAX_FAILURES_PER_USER`` from anywhere) within
``LOGIN_FAILURE_WINDOW`` seconds, the form refuses to check passwords until the window
has passed. Counters live in the shared cache, so every web process sees them."""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache

from portal.access import public

LOGIN_MAX_FAILURES = getattr(settings, "LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_USER = getattr(settings, "LOGIN_MAX_FAILURES_PER_USER", 20)
LOGIN_FAILURE_WINDOW = getattr(settings, "LOGIN_FAILURE_WINDOW", 15 * 60)
LOCKED_MESSAGE = ("Too many failed attempts. For your child's safety, logging in to this account is "
                  "paused for 15 minutes. You can reset your password meanwhile.")


def client_ip(request) -> str:
    """The client's address; behind a trusted proxy (BEHIND_PROXY), the first forwarded one."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


def _keys(username: str, ip: str) -> tuple[str, str]:
    name = (username or "").strip().casefold()
    digest = lambda raw: hashlib.sha256(raw.encode()).hexdigest()  # noqa: E731  (no emails in cache keys)
    return f"login-fail:{digest(name + '|' + ip)}", f"login-fail-user:{digest(name)}"


def login_locked(username: str, ip: str) -> bool:
    pair, user = _keys(username, ip)
    counts = cache.get_many([pair, user])
    return counts.get(pair, 0) >= LOGIN_MAX_FAILURES or counts.get(user, 0) >= LOGIN_MAX_FAILURES_PER_USER


def login_failed(username: str, ip: str) -> None:
    for key in _keys(username, ip):
        if not cache.add(key, 1, LOGIN_FAILURE_WINDOW):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, LOGIN_FAILURE_WINDOW)


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
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            login_succeeded(username, ip)
        else:
            login_failed(username, ip)
        return response


login_view = public(RateLimitedLoginView.as_view())
