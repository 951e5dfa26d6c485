"""The toy servers' routes: a device's config, its memory context, finished conversations.

Every route takes a device or fleet token (``request.auth``) and answers 404 for a device
the token does not cover, exactly as for one that does not exist."""

import re

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Header, Query, Router, Status

from devices import lookups, toys
from devices.models import Agent, Device, normalize_mac
from devices.profile import profile_text
from devices.tokens import DEVICE_AUTH
from memories import conversations
from memories.schemas import (
    MAC_HELP,
    MAC_PATTERN,
    ConfigOut,
    ContextOut,
    ContextQuery,
    ConversationIn,
    ConversationOut,
    ErrorOut,
    MacPath,
    PairingCodeIn,
    PairingCodeOut,
)
from portal.errors import ApplicationError

router = Router(tags=["toys"], auth=DEVICE_AUTH)
PROFILE_PLACEHOLDER = "{{child_profile}}"
ERRORS = {401: ErrorOut, 404: ErrorOut, 405: ErrorOut, 413: ErrorOut, 422: ErrorOut, 503: ErrorOut}


class DeviceNotFound(Http404):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def device_for_token(request: HttpRequest, mac: str, *, bound: bool = True) -> Device:
    """The device behind a MAC, if the token covers it; bound to a child unless ``bound=False``."""
    if not re.fullmatch(MAC_PATTERN, mac):  # exactly what the OpenAPI document promises
        raise ApplicationError(MAC_HELP, field="mac", code="invalid_mac")
    normalized = normalize_mac(mac)
    device = lookups.cached(("device", normalized), lambda: Device.objects.select_related("agent", "child")
                            .filter(mac=normalized).first())
    if device is None or not request.auth.covers(device):
        raise DeviceNotFound("No device with this MAC address.", "unknown_device")
    if bound and device.child is None:
        raise DeviceNotFound("This device is not linked to a child yet.", "device_unbound")
    return device


@router.get("/devices/{mac}/config", response={200: ConfigOut, **ERRORS}, url_name="device_config")
def device_config(request, mac: MacPath):
    """Everything a toy server needs at session start."""
    device = device_for_token(request, mac)
    child, agent = device.child, device.agent
    profile = profile_text(child)
    prompt = (agent.system_prompt if agent else "").replace(PROFILE_PLACEHOLDER, profile)
    conversations.device_seen(device)
    reason, learning_reason = (conversations.memory_off_reason(device),
                               conversations.memory_off_reason(device, learning=True))
    return {
        "mac": device.mac, "device_name": device.name,
        "agent": {"id": agent.pk, "name": agent.name} if agent else None,
        "system_prompt": prompt, "mem0_user_id": device.namespace,
        "memory": {"enabled": not reason,
                   "agent_enabled": agent.memory_enabled if agent else True, "paused": child.memory_paused,
                   "user_id": device.namespace, "reason": reason,
                   "learning": not learning_reason, "learning_reason": learning_reason},
        "child": {"id": child.pk, "name": child.name, "age": child.age, "age_group": child.age_group,
                  "gender": child.gender, "interests": list(child.interests or []), "toy_note": child.toy_note,
                  "profile_text": profile},
    }


@router.get("/devices/{mac}/memory-context", response={200: ContextOut, **ERRORS}, url_name="memory_context")
def memory_context(request, mac: MacPath, params: Query[ContextQuery]):
    """The memories to inject into the prompt (never 🚫-rated ones); each one served is counted."""
    device = device_for_token(request, mac)
    records, reason = conversations.context_for(device, query=params.query, limit=params.limit)
    conversations.device_seen(device)
    items = [{"id": r.id, "text": r.text, "created_at": r.created_at, "category": r.category, "score": r.score}
             for r in records]
    return {"enabled": not reason, "reason": reason or ("" if items else "empty"), "items": items,
            "block": conversations.context_block(records)}


@router.post("/devices/{mac}/conversations",
             response={200: ConversationOut, 202: ConversationOut, 409: ErrorOut, **ERRORS},
             url_name="conversations")
def conversation_post(request, mac: MacPath, payload: ConversationIn,
                      idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=128)):
    """A finished session: answered at once (202); extraction runs in the background.
    The same idempotency key again answers 200 with the first conversation; the same key
    with other messages is refused (409 ``idempotency_conflict``)."""
    device = device_for_token(request, mac)
    key = payload.idempotency_key or idempotency_key or ""
    conversation, created = conversations.conversation_accept(
        device=device, messages=[m.model_dump() for m in payload.messages], idempotency_key=key)
    conversations.device_seen(device)
    body = {"id": conversation.pk, "state": conversation.state, "drop_reason": conversation.drop_reason}
    return Status(202 if created else 200, body)


@router.post("/devices/{mac}/pairing-code", response={201: PairingCodeOut, 403: ErrorOut, 409: ErrorOut,
                                                      429: ErrorOut, **ERRORS}, url_name="pairing_code")
def pairing_code(request, mac: MacPath, payload: PairingCodeIn | None = None):
    """A 6-digit code for a toy the portal does not know yet (fleet token): the toy says or
    shows it, and a parent types it in the portal to add the toy to a child. It expires in
    minutes (``expires_in``), works once, and a new one replaces the old (409
    ``device_registered`` when the MAC is paired already; 429 when asked too often)."""
    if not re.fullmatch(MAC_PATTERN, mac):
        raise ApplicationError(MAC_HELP, field="mac", code="invalid_mac")
    agent = None
    if payload is not None and payload.agent_id is not None:
        agent = Agent.objects.filter(pk=payload.agent_id).first()
        if agent is None:
            raise ApplicationError("No such agent.", field="agent_id", code="unknown_agent")
    row, code = toys.pairing_code_issue(token=request.auth, mac=mac, agent=agent)
    expires_in = max(0, round((row.expires_at - timezone.now()).total_seconds()))
    return Status(201, {"code": code, "expires_at": row.expires_at, "expires_in": expires_in})
