"""A person's time zone, language and digest choice (``Preferences``), and how each request
gets them: the browser sends its zone in the ``tz`` cookie (static/js/portal.js); at login
the saved choices go into the session, a zone not saved yet is taken from the cookie; then
``PreferencesMiddleware`` activates the zone and language on every page, without a query."""

from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings
from django.core import signing
from django.utils import timezone, translation

from portal.models import Preferences

TZ_COOKIE = "tz"
SESSION_KEY = "portal_prefs"
UNSUBSCRIBE_SALT = "portal.digest.unsubscribe"


@functools.cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (the account page's choices)."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def valid_zone(name: str | None) -> str | None:
    return name if name and name in time_zones() else None


def valid_language(code: str | None) -> str | None:
    return code if code and code in dict(settings.LANGUAGES) else None


def preferences_for(user) -> Preferences:
    return Preferences.objects.get_or_create(user=user)[0]


def preferences_update(*, user, time_zone: str, language: str, digest_weekly: bool | None = None) -> Preferences:
    """Save a person's choices; a zone or language we do not know is refused."""
    from portal.errors import ApplicationError

    if not valid_zone(time_zone):
        raise ApplicationError("Choose a time zone from the list.", field="time_zone")
    if language and not valid_language(language):
        raise ApplicationError("Choose one of the listed languages.", field="language")
    prefs = preferences_for(user)
    prefs.time_zone, prefs.language = time_zone, language
    fields = ["time_zone", "language", "updated_at"]
    if digest_weekly is not None:
        prefs.digest_weekly = digest_weekly
        fields.append("digest_weekly")
    prefs.save(update_fields=fields)
    return prefs


def language_choose(*, user, language: str) -> None:
    prefs = preferences_for(user)
    prefs.language = valid_language(language) or ""
    prefs.save(update_fields=["language", "updated_at"])


def session_values(user, *, detected_zone: str | None) -> dict:
    """What the session keeps of a person's preferences; a zone the browser detected is
    saved when none is yet (the account page shows it and can change it)."""
    prefs = preferences_for(user)
    if not prefs.time_zone and valid_zone(detected_zone):
        prefs.time_zone = detected_zone
        prefs.save(update_fields=["time_zone", "updated_at"])
    return {"tz": prefs.time_zone, "lang": prefs.language}


def remember(request, prefs: Preferences) -> None:
    request.session[SESSION_KEY] = {"tz": prefs.time_zone, "lang": prefs.language}


def on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: every way in (the login form, an invitation, the admin, tests'
    ``force_login``) puts the person's choices in the session once."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = session_values(user, detected_zone=request.COOKIES.get(TZ_COOKIE))


class PreferencesMiddleware:
    """Every page in the person's time zone and language: the saved ones (from the session),
    else the browser's (the ``tz`` cookie; LocaleMiddleware has read Accept-Language and the
    language cookie), else the settings' defaults."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)
        saved = {}
        if request.user.is_authenticated:
            saved = request.session.get(SESSION_KEY)
            if saved is None:  # a session from before preferences existed
                saved = session_values(request.user, detected_zone=request.COOKIES.get(TZ_COOKIE))
                request.session[SESSION_KEY] = saved
        zone = valid_zone(saved.get("tz")) or valid_zone(request.COOKIES.get(TZ_COOKIE))
        language = valid_language(saved.get("lang"))
        if language:
            request.LANGUAGE_CODE = language
        # Overrides, not activations: nothing of this request's zone or language stays with
        # the thread afterwards.
        with timezone.override(zone), translation.override(language or translation.get_language()):
            response = self.get_response(request)
            if language:
                response.headers["Content-Language"] = language
        return response


# -- the weekly digest's unsubscribe link: signed, no login, no expiry ----------------------------

def unsubscribe_token(user) -> str:
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def _unsubscribe_user_id(token: str) -> int | None:
    try:
        return int(signing.loads(token, salt=UNSUBSCRIBE_SALT)["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def digest_unsubscribe_check(token: str) -> bool:
    return _unsubscribe_user_id(token) is not None


def digest_unsubscribe(token: str) -> Preferences | None:
    """Turn the digest off for the person the link was made for; None for a bad link."""
    user_id = _unsubscribe_user_id(token)
    if user_id is None:
        return None
    prefs = Preferences.objects.filter(user_id=user_id).first()
    if prefs is not None and prefs.digest_weekly:
        prefs.digest_weekly = False
        prefs.save(update_fields=["digest_weekly", "updated_at"])
    return prefs
