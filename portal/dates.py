"""One way to show a date or a time, in the viewer's time zone (activated per request by
``portal.preferences.PreferencesMiddleware``, or overridden for an email) and language:
``when`` for a moment ("5 Mar 2026, 14:05 IST"), ``day`` for a day ("5 Mar 2026").
Templates use the filters of the same names (``{% load dates %}``)."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, timezone


def when(value: datetime | None) -> str:
    """A moment with its zone's abbreviation, so nobody wonders whether it is UTC."""
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    label = local.strftime("%Z") if local.tzinfo else ""
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {label}".strip()


def day(value: date | datetime | None) -> str:
    if not value:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return formats.date_format(value, "DATE_FORMAT")
