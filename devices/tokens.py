"""Toy servers' credentials: a token for one device, or a fleet token for every device.

The raw token is shown once, when it is created; only its SHA-256 (``DeviceToken.hash``)
and a short prefix (to tell tokens apart on the admin page) are stored. The API's
``DEVICE_AUTH`` returns the ``DeviceToken`` as ``request.auth``; routes then check
``token.covers(device)`` and answer 404 for a device the token does not cover."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyHeader, HttpBearer

from devices import lookups
from devices.models import Device, DeviceToken
from portal.audit import audit
from portal.errors import ApplicationError

TOKEN_PREFIX = "mpt_"
LAST_USED_EVERY = timedelta(seconds=60)  # write last_used_at at most once a minute per token
MAX_TOKEN_LENGTH = 200


@transaction.atomic
def token_create(*, actor, name: str, device: Device | None = None, fleet: bool = False) -> tuple[DeviceToken, str]:
    """A new token for one device or (``fleet=True``) every device. Returns the row and
    the raw token, which is never stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("Give the token a name (e.g. the toy server it is for).", field="name")
    if fleet == (device is not None):
        raise ApplicationError("Choose either one device or the whole fleet.", field="device", code="scope")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DeviceToken.objects.create(name=name[:80], device=device, is_fleet=fleet, prefix=raw[:12],
                                       token_hash=DeviceToken.hash(raw), created_by=actor)
    audit(actor=actor, action="token.create", household=getattr(device, "household", None), token_id=token.pk,
          fleet=fleet, device_id=getattr(device, "pk", None))
    return token, raw


@transaction.atomic
def token_revoke(*, actor, token: DeviceToken) -> DeviceToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(actor=actor, action="token.revoke", token_id=token.pk)
    return token


def token_lookup(raw: str | None) -> DeviceToken | None:
    """The live token behind a raw value, or None; marks it used (at most once a minute).
    Cached in the process until a token, toy, child, agent or consent changes (``lookups``)."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    digest = DeviceToken.hash(raw)
    token = lookups.cached(("token", digest), lambda: DeviceToken.objects.select_related("device").filter(
        token_hash=digest, revoked_at__isnull=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        DeviceToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class DeviceTokenBearer(HttpBearer):
    """``Authorization: Bearer <token>``: the documented scheme (OpenAPI ``http``/``bearer``)."""

    def __call__(self, request: HttpRequest) -> DeviceToken | None:
        # ninja's own parsing logs a malformed header (the token with it) in DEBUG: not ours.
        scheme, _, value = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not value.strip():
            return None
        return self.authenticate(request, value.strip())

    def authenticate(self, request: HttpRequest, token: str) -> DeviceToken | None:
        return token_lookup(token)


class DeviceTokenHeader(APIKeyHeader):
    """``X-Device-Token: <token>``, still accepted (documented as the second scheme)."""

    param_name = "X-Device-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> DeviceToken | None:
        return token_lookup(key)


# The toy routes' ``auth``: either scheme; the result is the ``DeviceToken`` (``request.auth``).
DEVICE_AUTH = [DeviceTokenBearer(), DeviceTokenHeader()]
