"""A family's toys: pairing by a 6-digit code, renaming, removing.

    toy server ──POST /api/v1/devices/{mac}/pairing-code (fleet token)──▶ code (10 min)
    toy says "1 2 3 4 5 6" ──▶ parent types it on "Add a toy" ──▶ Device in their household

A code is stored only as an HMAC, works once, expires (``PAIRING_CODE_TTL_MINUTES``), and
a new one for the same MAC replaces the old. Asking is limited per MAC and per toy server,
guessing per parent and per household (``PAIRING_*`` settings). Every refusal a parent can
see says the same thing, so a MAC registered to another household is never revealed.
Typing a raw MAC (``services.device_register``) is for staff only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from devices.models import (
    Agent,
    ChildProfile,
    Device,
    DeviceToken,
    Household,
    PairingCode,
    normalize_mac,
)
from devices.services import profile_sync_enqueue
from portal.audit import audit
from portal.errors import ApplicationError

INVALID_CODE = "This code is not valid (or has expired, or was used). Ask the toy for a new code."
GUESSES_EXCEEDED = "Too many wrong codes. Wait 15 minutes, then ask the toy for a new code."


def _setting(name: str, default: int) -> int:
    return getattr(settings, name, default)


def _digest(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"pairing:{code}".encode(), hashlib.sha256).hexdigest()


def _hits(key: str, window: int) -> int:
    """Count one more hit in ``window`` seconds; the count so far (shared cache)."""
    if cache.add(key, 1, window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window)
        return 1


def _over(key: str, limit: int) -> bool:
    return (cache.get(key) or 0) >= limit


# -- toy server side ---------------------------------------------------------------------

def pairing_code_issue(*, token: DeviceToken, mac: str, agent: Agent | None = None) -> tuple[PairingCode, str]:
    """A fresh code for an unknown MAC (a fleet token only). Returns the row and the code,
    which is never stored."""
    if not token.is_fleet:
        raise ApplicationError("Only a fleet token can ask for pairing codes.", code="fleet_token_required",
                               extra={"status": 403})
    try:
        mac = normalize_mac(mac)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0], field="mac", code="invalid_mac") from None
    if Device.objects.filter(mac=mac).exists():
        raise ApplicationError("This toy is paired already; its household can remove it to pair it again.",
                               code="device_registered", extra={"status": 409})
    hour = 60 * 60
    per_mac = _hits(f"pair-mac:{hashlib.sha256(mac.encode()).hexdigest()}", hour)
    per_token = _hits(f"pair-token:{token.pk}", hour)
    if per_mac > _setting("PAIRING_CODES_PER_MAC_PER_HOUR", 6) or \
            per_token > _setting("PAIRING_CODES_PER_TOKEN_PER_HOUR", 600):
        raise ApplicationError("Too many pairing codes asked for: try again later.", code="rate_limited",
                               extra={"status": 429, "retry_after": hour})
    now = timezone.now()
    with transaction.atomic():
        PairingCode.objects.filter(mac=mac, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        while True:
            code = f"{secrets.randbelow(10**6):06d}"
            if not PairingCode.objects.filter(code_digest=_digest(code), used_at__isnull=True,
                                              expires_at__gt=now).exists():
                break
        row = PairingCode.objects.create(
            mac=mac, code_digest=_digest(code), agent=agent, token=token,
            expires_at=now + timedelta(minutes=_setting("PAIRING_CODE_TTL_MINUTES", 10)))
        audit(actor=None, action="pairing.code", token_id=token.pk, pairing_id=row.pk)
    return row, code


# -- parent side -------------------------------------------------------------------------

def _guess_keys(actor, household: Household) -> tuple[str, str]:
    return f"pair-guess-user:{actor.pk}", f"pair-guess-household:{household.pk}"


def pairing_claim(*, actor, household: Household, code: str, child: ChildProfile | None,
                  name: str = "") -> Device:
    """Add the toy behind ``code`` to the household (and child). Wrong, expired, used and
    foreign codes all get ``INVALID_CODE``; too many wrong ones, ``GUESSES_EXCEEDED``."""
    window = 15 * 60
    by_user, by_household = _guess_keys(actor, household)
    if _over(by_user, _setting("PAIRING_GUESSES_PER_USER", 5)) or \
            _over(by_household, _setting("PAIRING_GUESSES_PER_HOUSEHOLD", 10)):
        raise ApplicationError(GUESSES_EXCEEDED, field="code", code="rate_limited", extra={"status": 429})
    if child is not None and child.household_id != household.pk:
        raise ApplicationError("Choose a child of this household.", field="child")
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    now = timezone.now()
    with transaction.atomic():
        row = PairingCode.objects.select_for_update().filter(
            code_digest=_digest(code), used_at__isnull=True, expires_at__gt=now).first() if len(code) == 6 else None
        if row is not None and not Device.objects.filter(mac=row.mac).exists():
            device = Device.objects.create(household=household, mac=row.mac, name=(name or "").strip()[:80],
                                           child=child, agent=row.agent)
            PairingCode.objects.filter(pk=row.pk).update(used_at=now, device=device)
            if child is not None:
                profile_sync_enqueue(child)
            audit(actor=actor, action="device.pair", household=household, child=child, device_id=device.pk)
            return device
    _hits(by_user, window)
    _hits(by_household, window)
    audit(actor=actor, action="pairing.refused", household=household)
    raise ApplicationError(INVALID_CODE, field="code", code="invalid_code")


# -- the toys page -------------------------------------------------------------------------

@transaction.atomic
def device_rename(*, actor, device: Device, name: str) -> Device:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("Give the toy a name.", field="name")
    device.name = name[:80]
    device.save(update_fields=["name"])
    audit(actor=actor, action="device.rename", household=device.household, device_id=device.pk)
    return device


def is_last_toy(device: Device) -> bool:
    """The only toy linked to its child: removing it leaves the child's memories toy-less."""
    return device.child_id is not None and not Device.objects.filter(child_id=device.child_id).exclude(
        pk=device.pk).exists()


@transaction.atomic
def device_remove(*, actor, device: Device) -> None:
    """The toy leaves the household (its tokens with it); the child's memories stay with
    the child (the memories room erases them first when the parent chose so)."""
    household, child = device.household, device.child
    device_id = device.pk
    device.delete()
    audit(actor=actor, action="device.remove", household=household, child=child, device_id=device_id)
