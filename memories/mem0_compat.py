"""The Mem0 Platform's REST routes, for toy servers that already use mem0ai's ``MemoryClient``.

``MemoryClient(host="https://<portal>/api/v1/mem0", api_key=<device or fleet token>)`` is the
whole integration (mem0ai 1.0.x and 2.2.x): the toy's ``user_id`` is its MAC address, the
portal maps MAC → toy → child on every call, and every read and write passes the portal's
rules. Served (paths relative to ``host``):

    GET  v1/ping/                    the key check MemoryClient makes when it is built
    POST v1/memories/       (1.0)    add: a conversation, exactly as POST devices/{mac}/conversations
    POST v3/memories/add/   (2.x)      (answered at once as the Platform's queued add: PENDING + event_id)
    GET  v1/event/{event_id}/        how that add went
    POST v2/memories/search/ (1.0)   search the child's memories: best first, never 🚫, each one counted
    POST v3/memories/search/ (2.x)
    POST v2/memories/  v3/memories/  get_all: newest first, ``page`` / ``page_size``
    GET  v1/memories/{memory_id}/    one memory, only the child's
    POST v1/feedback/                recorded for the parents; it changes no rating

Anything else (update, delete, delete_all, history, batch, entities, exports, summary,
projects, webhooks, profiles) is a 403 ``{"detail": …}`` saying why. Memory paused for the
child, off for the toy's agent, or an erase of the child's memories under way: searches and
lists answer empty and adds are dropped (kept as a dropped conversation, counted). Answers
carry the ``user_id`` the toy sent, never the child's namespace. Every call is audited (ids,
counts and outcome; never text)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from ninja.security import APIKeyHeader

from devices.models import ChildProfile, Device, DeviceToken, Household, normalize_mac
from devices.tokens import token_lookup
from memories import conversations, gateway
from memories.api import ERRORS, device_for_token
from memories.gateway import ListFilter, MemoryRecord
from memories.gateway.records import aware
from memories.models import Conversation, MemoryFeedback
from memories.schemas import MAC_HELP, MAC_PATTERN, MAX_CONTENT, MAX_MESSAGES, ErrorOut
from portal import batches
from portal.audit import audit_entry
from portal.errors import ApplicationError
from portal.models import AuditEvent

PREFIX = "/mem0/"  # where portal.api mounts this router
ORG_ID, PROJECT_ID = "memory-portal", "toys"  # what ping answers (1.0 clients send them back; ignored)
MAX_RESULTS = 50  # top_k / limit above this are served this many
MAX_PAGE_SIZE = 100
RECENT = 50  # a toy's conversations an add may continue
SERVED = ListFilter(exclude_blocked=True)
QUEUED = "Memory processing has been queued for background execution"
NOT_REMEMBERED = {
    "paused": "memory is paused for this child",
    "memory_off": "memory is off for this toy's agent",
    "erasing": "the child's memories are being erased",
    "erased": "the child's memories were erased meanwhile",
    "empty": "there was nothing to learn from",
    "closed": "the family's account is closed",
    "no_consent": "a parent has not given consent",
    "no_platform_consent": "a parent has not agreed to the memory service",
    "no_llm_consent": "a parent has not agreed to learning from conversations",
}
EVENT_STATUS = {"pending": "PENDING", "failed": "PENDING", "running": "RUNNING", "done": "SUCCEEDED",
                "dropped": "SUCCEEDED", "dead": "FAILED"}
State = Conversation.State


class Mem0Token(APIKeyHeader):
    """``Authorization: Token <key>``, as ``MemoryClient`` sends its API key (``Bearer`` is
    taken too): a device or fleet token. ``request.auth`` is the ``DeviceToken``."""

    param_name = "Authorization"

    def authenticate(self, request: HttpRequest, key: str | None) -> DeviceToken | None:
        scheme, _, value = (key or "").partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        return token_lookup(value.strip())


router = Router(tags=["Mem0-compatible (MemoryClient)"], auth=Mem0Token())
ANSWERS = {**ERRORS, 403: ErrorOut}


# -- what goes in and out ----------------------------------------------------------------

class SearchIn(Schema):
    query: str = ""
    filters: dict | None = None
    user_id: str | None = None
    top_k: int | None = None
    limit: int | None = None
    threshold: float | None = None


class ListIn(Schema):
    filters: dict | None = None
    user_id: str | None = None
    page: int | None = None
    page_size: int | None = None


class AddIn(Schema):
    messages: Any = None
    user_id: str | None = None
    filters: dict | None = None


class FeedbackIn(Schema):
    memory_id: str
    feedback: str | None = None
    feedback_reason: str | None = None


class MemoryOut(Schema):
    id: str
    memory: str
    user_id: str
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict
    categories: list[str]
    score: float | None = None
    created_at: str | None
    updated_at: str | None


class ResultsOut(Schema):
    results: list[MemoryOut]


class PageOut(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[MemoryOut]


class AddOut(Schema):
    message: str
    status: str
    event_id: str


class AddResultsOut(Schema):
    results: list[AddOut]


class EventResultOut(Schema):
    id: str
    event: str


class EventOut(Schema):
    id: str
    event_type: str
    status: str
    message: str
    results: list[EventResultOut]
    created_at: str | None
    updated_at: str | None


class PingOut(Schema):
    status: str
    org_id: str
    project_id: str
    user_email: str | None = None


class FeedbackOut(Schema):
    memory_id: str
    feedback: str | None
    feedback_reason: str | None


# -- the trail: every call audited (ids, counts, outcome) ---------------------------------

class Trail:
    """Audits the call when it ends, answered or refused: ``toy.<what>``, with the reason
    memory was not served (``toy.search.paused``) or the refusal's code. In a web server the
    entries are written in batches off the request path (``portal.batches``), each with the
    call's time; elsewhere at once."""

    def __init__(self, request: HttpRequest, what: str):
        self.request, self.what = request, what
        self.device: Device | None = None
        self.count, self.reason, self.detail = 0, "", {}

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        outcome = self.reason
        if exc is not None:
            outcome = "refused"
            self.detail["code"] = getattr(exc, "code", type(exc).__name__)
        device = self.device
        entry = audit_entry(actor=None, action=f"toy.{self.what}" + (f".{outcome}" if outcome else ""),
                            household=device.household if device else None, child=device.child if device else None,
                            count=self.count, token_id=self.request.auth.pk,
                            device_id=device.pk if device else None, **self.detail)
        _trail.add([(entry, device.child.memory_epoch if device and device.child else None)])
        return False


def _trail_write(entries: list[tuple[AuditEvent, int | None]]) -> None:
    """The calls' entries in one insert (each with the child's memory epoch at the call).
    Meanwhile the children's and households' rows are locked, so an erasure starting or a
    household going waits: an entry of a child erased since the call (its epoch moved, or it
    is gone) keeps the child's id but not the name, as the erasure leaves the trail, and one
    of a household gone since keeps no household, as its deletion leaves it."""
    child_ids = sorted({e.child_id for e, _ in entries if e.child_id is not None})
    household_ids = sorted({e.household_id for e, _ in entries if e.household_id is not None})
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f'SELECT id, memory_epoch FROM "{ChildProfile._meta.db_table}" WHERE id = ANY(%s) '
                    "ORDER BY id FOR SHARE", [child_ids])
        epochs = dict(cur.fetchall())
        cur.execute(f'SELECT id FROM "{Household._meta.db_table}" WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE',
                    [household_ids])
        households = {row[0] for row in cur.fetchall()}
        for event, epoch in entries:
            if event.child_id is not None and epochs.get(event.child_id) != epoch:
                event.child_name = ""
            if event.household_id not in households:
                event.household = None
        AuditEvent.objects.bulk_create([event for event, _ in entries])


_trail = batches.Batch("toy call audit entries", _trail_write)


# -- which toy, which child ----------------------------------------------------------------

def _filter_user_ids(node) -> list[str]:
    """Every ``user_id`` a filter selects (``{"user_id": m}``, ``{"in": [...]}``, inside
    ``AND`` / ``OR``); other entities (agent_id, run_id…) narrow nothing here."""
    if isinstance(node, list):
        return [name for item in node for name in _filter_user_ids(item)]
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        if key in ("AND", "OR"):
            found += _filter_user_ids(value)
        elif key == "user_id":
            if isinstance(value, dict):
                value = value.get("in", value.get("eq"))
            found += [v for v in (value if isinstance(value, list) else [value]) if v is not None]
    return found


def _toy(request: HttpRequest, names: list) -> tuple[Device, str]:
    """The toy the call is about, linked to a child and covered by the token, and the
    ``user_id`` to answer with (as the toy sent it). A device token may leave it out."""
    if not names:
        token = request.auth
        if token.device_id is None:
            raise ApplicationError('Name the toy: filters={"user_id": <its MAC address>}.', field="user_id",
                                   code="user_id_required")
        device = device_for_token(request, token.device.mac)
        return device, device.mac
    if not all(isinstance(n, str) and re.fullmatch(MAC_PATTERN, n) for n in names):
        raise ApplicationError(f"user_id is the toy's MAC address. {MAC_HELP}", field="user_id", code="invalid_mac")
    if len({normalize_mac(n) for n in names}) > 1:
        raise ApplicationError("One toy per call: every user_id must be the same MAC address.", field="user_id",
                               code="several_toys")
    return device_for_token(request, names[0]), names[0]


def _named(user_id: str | None, filters) -> list:
    return ([user_id] if user_id else []) + _filter_user_ids(filters)


def _stamp(value: datetime | None) -> str | None:
    """ISO 8601 with microseconds, as the Platform writes it (xiaozhi cuts at the first '.')."""
    return timezone.localtime(aware(value)).isoformat(timespec="microseconds") if value else None


def _item(record: MemoryRecord, user_id: str) -> dict:
    return {
        "id": record.id, "memory": record.text, "user_id": user_id,
        "metadata": {k: v for k, v in (("kind", record.kind), ("category", record.category)) if v},
        "categories": [record.category] if record.category else [], "score": record.score,
        "created_at": _stamp(record.created_at or record.updated_at),
        "updated_at": _stamp(record.updated_at or record.created_at),
    }


# -- ping ----------------------------------------------------------------------------------

@router.get("/v1/ping/", response={200: PingOut, **ANSWERS}, url_name="mem0_ping")
def ping(request):
    """The key check ``MemoryClient`` makes when it is built."""
    with Trail(request, "ping"):
        return {"status": "ok", "org_id": ORG_ID, "project_id": PROJECT_ID, "user_email": None}


# -- add -------------------------------------------------------------------------------------

def _text(content) -> str:
    if isinstance(content, str):
        return content
    parts = [content] if isinstance(content, dict) else content if isinstance(content, list) else []
    return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def messages_from(raw) -> list[dict]:
    """The session as a conversation: a string or a single message becomes a list; only
    user and assistant turns with text are kept, the last ``MAX_MESSAGES`` of them, each cut
    at ``MAX_CONTENT`` characters. A toy server sends a session once and never retries, so
    what is over the limits is trimmed, not refused."""
    if raw is None:
        raise ApplicationError("messages are required.", field="messages")
    if isinstance(raw, str | dict):
        raw = [raw if isinstance(raw, dict) else {"role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise ApplicationError("messages is a list of {role, content}.", field="messages")
    kept = []
    for message in raw:
        if isinstance(message, dict) and message.get("role") in ("user", "assistant"):
            text = _text(message.get("content")).strip()
            if text:
                kept.append({"role": message["role"], "content": text[:MAX_CONTENT]})
    return kept[-MAX_MESSAGES:]


def event_id(conversation: Conversation) -> str:
    return str(uuid.UUID(int=conversation.pk))


def _outcome(conversation: Conversation) -> tuple[str, str]:
    if conversation.state == State.DROPPED:
        why = NOT_REMEMBERED.get(conversation.drop_reason, conversation.drop_reason)
        return EVENT_STATUS[State.DROPPED], f"Not remembered: {why}."
    return EVENT_STATUS.get(conversation.state, "PENDING"), QUEUED


def _sent_keys(messages: list[dict]) -> list[str]:
    """A key for each prefix of what the toy sent (a hash chain: one pass over the text)."""
    keys, digest = [], b""
    for message in messages:
        digest = hashlib.sha256(digest + json.dumps(message, ensure_ascii=False, sort_keys=True).encode()).digest()
        keys.append("mem0:" + digest.hex())
    return keys


def accept(device: Device, messages: list[dict]) -> Conversation:
    """The session as a conversation (``conversations.conversation_accept``), learned once:
    pipecat sends the whole conversation so far on every turn, and a server may send a
    session twice. What was sent before is the same conversation again; what continues one of
    the toy's last conversations becomes a conversation of the new turns only."""
    keys = _sent_keys(messages)
    key = keys[-1] if keys else ""
    if key and (same := Conversation.objects.filter(device=device, idempotency_key=key).first()):
        return same
    recent = set(Conversation.objects.filter(device=device, idempotency_key__startswith="mem0:")
                 .order_by("-pk").values_list("idempotency_key", flat=True)[:RECENT])
    sent_before = next((n for n in range(len(keys) - 1, 0, -1) if keys[n - 1] in recent), 0)
    conversation, _ = conversations.conversation_accept(device=device, messages=messages[sent_before:],
                                                        idempotency_key=key)
    return conversation


def _add(request, payload: AddIn) -> dict:
    with Trail(request, "add") as trail:
        trail.device, _ = _toy(request, _named(payload.user_id, payload.filters))
        messages = messages_from(payload.messages)
        conversation = accept(trail.device, messages)
        conversations.device_seen(trail.device)
        trail.count, trail.reason = len(messages), conversation.drop_reason
        trail.detail["conversation_id"] = conversation.pk
        status, message = _outcome(conversation)
        return {"message": message, "status": status, "event_id": event_id(conversation)}


@router.post("/v1/memories/", response={200: AddResultsOut, **ANSWERS}, url_name="mem0_add_v1")
def add_v1(request, payload: AddIn):
    """mem0ai 1.0 ``add``: queued (the answer is the Platform's asynchronous one)."""
    return {"results": [_add(request, payload)]}


@router.post("/v3/memories/add/", response={200: AddOut, **ANSWERS}, url_name="mem0_add")
def add_v3(request, payload: AddIn):
    """mem0ai 2.x ``add``: queued; ``GET v1/event/{event_id}/`` tells how it went."""
    return _add(request, payload)


@router.get("/v1/event/{event_id}/", response={200: EventOut, **ANSWERS}, url_name="mem0_event")
def event(request, event_id: str):
    """An add's progress: PENDING (also while it waits for a retry), RUNNING, SUCCEEDED
    (with the ids of the memories it added; none when it was not remembered), FAILED."""
    with Trail(request, "event") as trail:
        conversation = _conversation(request, event_id)
        trail.device = conversation.device
        status, message = _outcome(conversation)
        added = _added_ids(conversation) if conversation.state == State.DONE else []
        trail.count = len(added)
        return {"id": event_id, "event_type": "ADD", "status": status, "message": message,
                "results": [{"id": i, "event": "ADD"} for i in added],
                "created_at": _stamp(conversation.created_at), "updated_at": _stamp(conversation.updated_at)}


def _conversation(request, raw_id: str) -> Conversation:
    try:
        pk = uuid.UUID(raw_id).int
    except ValueError:
        pk = None
    conversation = (Conversation.objects.select_related("device__child", "device__agent")
                    .filter(pk=pk).first() if pk and pk < 2**63 else None)
    device = conversation.device if conversation else None
    if device is None or not request.auth.covers(device) or device.child_id != conversation.child_id:
        raise Http404("No such event.")
    return conversation


def _added_ids(conversation: Conversation) -> list[str]:
    """The memories the conversation added that are still there (and not 🚫)."""
    if not conversation.memories_added:
        return []
    found = []
    for record in gateway.get().iter_all([conversation.child.namespace], flt=SERVED):
        if str(record.metadata.get("conversation_id")) == str(conversation.pk):
            found.append(record.id)
            if len(found) == conversation.memories_added:
                break
    return found


# -- search ----------------------------------------------------------------------------------

def _search(request, payload: SearchIn) -> dict:
    with Trail(request, "search") as trail:
        device, user_id = _toy(request, _named(payload.user_id, payload.filters))
        trail.device = device
        trail.reason = conversations.memory_off_reason(device)
        if trail.reason:
            return {"results": []}
        limit = max(1, min(payload.top_k or payload.limit or 10, MAX_RESULTS))
        gw, namespace = gateway.get(), device.child.namespace
        if payload.query.strip():
            records = gw.search([namespace], payload.query, limit=limit, flt=SERVED)
        else:
            records = gw.list([namespace], limit=limit, flt=SERVED, total=False).items
        if payload.threshold:
            records = [r for r in records if r.score is None or r.score >= payload.threshold]
        records = conversations.served(device, records)
        conversations.device_seen(device)
        trail.count = len(records)
        return {"results": [_item(r, user_id) for r in records]}


@router.post("/v2/memories/search/", response={200: ResultsOut, **ANSWERS}, url_name="mem0_search_v2")
def search_v2(request, payload: SearchIn):
    """mem0ai 1.0 ``search`` (``user_id`` at the top level or in ``filters``)."""
    return _search(request, payload)


@router.post("/v3/memories/search/", response={200: ResultsOut, **ANSWERS}, url_name="mem0_search")
def search_v3(request, payload: SearchIn):
    """mem0ai 2.x ``search``: ``filters`` name the toy; ``top_k``, ``threshold``."""
    return _search(request, payload)


# -- get_all ---------------------------------------------------------------------------------

def _list(request, payload: ListIn, page: int | None, page_size: int | None) -> dict:
    with Trail(request, "list") as trail:
        device, user_id = _toy(request, _named(payload.user_id, payload.filters))
        trail.device = device
        number = max(1, page or payload.page or 1)
        size = max(1, min(page_size or payload.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE))
        trail.reason = conversations.memory_off_reason(device)
        records, total = [], 0
        if not trail.reason:
            found = gateway.get().list([device.child.namespace], offset=(number - 1) * size, limit=size, flt=SERVED)
            records, total = conversations.served(device, found.items), found.total
            if number > 1 and (number - 1) * size >= total:
                raise Http404("Invalid page.")
        trail.count = len(records)

        def link(n: int) -> str:
            return request.build_absolute_uri(f"{request.path}?page={n}&page_size={size}")

        return {"count": total, "next": link(number + 1) if number * size < total else None,
                "previous": link(number - 1) if number > 1 else None,
                "results": [_item(r, user_id) for r in records]}


@router.post("/v2/memories/", response={200: PageOut, **ANSWERS}, url_name="mem0_list_v2")
def list_v2(request, payload: ListIn, page: int | None = None, page_size: int | None = None):
    """mem0ai 1.0 ``get_all``: the child's memories, newest first."""
    return _list(request, payload, page, page_size)


@router.post("/v3/memories/", response={200: PageOut, **ANSWERS}, url_name="mem0_list")
def list_v3(request, payload: ListIn, page: int | None = None, page_size: int | None = None):
    """mem0ai 2.x ``get_all``: the child's memories, newest first, paged as the Platform pages."""
    return _list(request, payload, page, page_size)


# -- one memory, feedback ------------------------------------------------------------------------

def _memory(request, memory_id: str, user_id: str | None) -> tuple[Device, str, MemoryRecord]:
    """A memory of a child the token reaches through a toy, with that toy and the user_id to
    answer with; 404 for anything else, and while nothing may be served."""
    record = gateway.get().get(memory_id)
    if user_id or request.auth.device_id:
        device, shown = _toy(request, [user_id] if user_id else [])
    else:  # a fleet token: the toy is one linked to the memory's child
        device = _toy_of(record)
        shown = device.mac if device else ""
    if (record is None or device is None or not request.auth.covers(device)
            or record.namespace != device.child.namespace or conversations.memory_off_reason(device)
            or not conversations.unblocked(device.child, [record])):
        raise Http404("Memory not found.")
    return device, shown, record


def _toy_of(record: MemoryRecord | None) -> Device | None:
    key = (record.namespace if record else "").removeprefix("child_")
    if not re.fullmatch(r"[0-9a-f]{32}", key):
        return None
    child = ChildProfile.objects.filter(memory_key=uuid.UUID(key)).first()
    return Device.objects.select_related("agent", "child").filter(child=child).order_by("pk").first() if child else None


@router.get("/v1/memories/{memory_id}/", response={200: MemoryOut, **ANSWERS}, url_name="mem0_memory")
def memory_get(request, memory_id: str, user_id: str | None = None):
    """One memory of the toy's child (counted as served)."""
    with Trail(request, "get") as trail:
        trail.device, shown, record = _memory(request, memory_id, user_id)
        conversations.served(trail.device, [record])
        trail.count, trail.detail["memory_id"] = 1, record.id
        return _item(record, shown)


@router.post("/v1/feedback/", response={200: FeedbackOut, **ANSWERS}, url_name="mem0_feedback")
def feedback(request, payload: FeedbackIn):
    """A toy's opinion of a memory: recorded in the household's activity (the memory's id and
    the rating, not the reason's words). Ratings stay the parents': this changes none."""
    with Trail(request, "feedback") as trail:
        rating = (payload.feedback or "").upper() or None
        if rating not in (None, *MemoryFeedback.Rating.values):
            raise ApplicationError("feedback is POSITIVE, NEGATIVE, VERY_NEGATIVE or null.", field="feedback")
        trail.device, _, record = _memory(request, payload.memory_id, None)
        trail.count, trail.detail = 1, {"memory_id": record.id, "rating": rating}
        return {"memory_id": record.id, "feedback": rating, "feedback_reason": payload.feedback_reason}


# -- everything else: 403 -----------------------------------------------------------------------

REFUSALS = [
    (r"v1/memories/[^/]+/history/", "A memory's earlier versions are for parents, in the portal."),
    (r"v1/memories/([^/]+/)?|v1/batch/",
     "Toys do not change or delete memories: parents correct and delete them in the portal."),
    (r"v\d/entities/.*", "Memory spaces are not listed or deleted by toys: parents erase a child's memories "
                         "in the portal."),
    (r"v1/(exports|summary)/.*", "Exports are for parents, in the portal."),
    (r"(api/)?v\d/(orgs|projects|webhooks|profiles)/.*",
     "Project settings, webhooks and profiles belong to the portal: an agent's memory prompt is set there."),
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _refuse(request) -> None:
    rest = request.path.split(PREFIX, 1)[-1]
    detail = next((why for pattern, why in REFUSALS if re.fullmatch(pattern, rest)), None)
    with Trail(request, "refused") as trail:
        trail.detail = {"method": request.method, "route": rest[:100]}
    raise ApplicationError(detail or f"The portal does not serve {request.method} /{rest} to toy servers.",
                           code="not_served", extra={"status": 403})


def _refuse_plain(request):
    _refuse(request)


def _refuse_memory(request, memory_id: str):
    _refuse(request)


def _refuse_event(request, event_id: str):
    _refuse(request)


def _refuse_the_rest() -> None:
    """Each served path answers its other methods with the 403 (not a 405), then one route
    takes every other path under the prefix."""
    for path, view in list(router.path_operations.items()):
        taken = {method for operation in view.operations for method in operation.methods}
        refuse = _refuse_memory if "{memory_id}" in path else _refuse_event if "{event_id}" in path else _refuse_plain
        router.add_api_operation(path, [m for m in METHODS if m not in taken], refuse,
                                 response={403: ErrorOut, 401: ErrorOut}, include_in_schema=False)
    router.add_api_operation("/{path:rest}", METHODS, _refuse_rest, response={403: ErrorOut, 401: ErrorOut},
                             include_in_schema=False)


def _refuse_rest(request, rest: str):
    _refuse(request)


_refuse_the_rest()
