"""What the toy servers give and take: memory context for a session (counted), and finished
conversations to learn from (accepted at once, extracted by a task, raw words deleted after).

An accepted conversation is never lost: its row (a ``portal.queue`` row) keeps the messages
until Mem0 has extracted from them; Mem0 or the LLM failing leaves it ``failed``, sent again
by the sweep after its backoff (``dead`` after the last attempt, for an admin to retry), and
a missing LLM configuration is said plainly in ``last_error``."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from devices import lookups
from devices.consent import consent_missing
from devices.models import ChildProfile, Device
from memories import gateway
from memories.erasure import child_is_erasing
from memories.gateway import (
    LEARNED_KIND,
    PARENT_KIND,
    ListFilter,
    LLMNotConfigured,
    Mem0Unavailable,
    MemoryRecord,
)
from memories.models import Conversation, MemoryChange, MemoryFeedback, MemoryUsage
from portal import batches, queue
from portal.errors import ApplicationError
from portal.queue import enqueue_on_commit

log = logging.getLogger(__name__)
State = Conversation.State
TOY_ROLE = "toy"
SEEN_EVERY = timedelta(seconds=30)  # write device.last_seen_at at most this often


def memory_off_reason(device: Device, *, learning: bool = False) -> str:
    """Why nothing may be served (or, ``learning``, learned) for the device now ("" when
    memory is on). Kept in the process until a toy, child, agent or consent changes."""
    return lookups.cached(("off_reason", device.pk, device.agent_id, device.child_id, learning),
                          lambda: _off_reason(device.agent, device.child, learning=learning))


def _off_reason(agent, child, *, learning: bool = False) -> str:
    """The one place that decides whether memory is on: the agent's switch, the parent's
    pause, then the parent's consent (``devices.consent``: no_consent, no_platform_consent,
    and for learning no_llm_consent)."""
    if agent is not None and not agent.memory_enabled:
        return "memory_off"
    if child is not None and child.memory_paused:
        return "paused"
    if child is not None and child.household.closed_at is not None:
        return "closed"  # the household is closed: erased after its notice period
    if child is not None and child_is_erasing(child):
        return "erasing"  # the parent asked to erase: nothing of it is served meanwhile
    if child is not None:
        return consent_missing(child, learning=learning)
    return ""


def device_seen(device: Device) -> None:
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at > SEEN_EVERY:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now


# -- memory context ---------------------------------------------------------------------

def context_for(device: Device, *, query: str = "", limit: int = 10) -> tuple[list[MemoryRecord], str]:
    """The memories to inject, newest first, and why there are none (when memory is off).

    With a query: the ``limit`` closest memories (semantic search), then newest first.
    Without: the newest ``limit``. Never 🚫-rated ones, never the profile (``config`` has it)."""
    reason = memory_off_reason(device)
    if reason:
        return [], reason
    flt = ListFilter(kinds=(LEARNED_KIND, PARENT_KIND), exclude_blocked=True)
    gw = gateway.get()
    namespace = device.child.namespace
    if query.strip():
        records = gw.search([namespace], query, limit=limit, flt=flt)
    else:
        records = gw.list([namespace], limit=limit, flt=flt, total=False).items
    return sorted(served(device, records), key=_newest_first, reverse=True), ""


def served(device: Device, records: list[MemoryRecord]) -> list[MemoryRecord]:
    """What of ``records`` may be served to the toy (never a 🚫), counted as served. The toy
    routes' one door out (memory-context and the Mem0-compatible reads)."""
    kept = unblocked(device.child, records)
    usage_record(device, device.child.namespace, [r.id for r in kept])
    return kept


def unblocked(child: ChildProfile, records: list[MemoryRecord]) -> list[MemoryRecord]:
    """Never a 🚫: Mem0's copy of the rating says so, or our record does while the copy waits
    for its mirror (Mem0 was down when the parent rated it: ``services.memory_rate``). Our
    records of the child's 🚫 are kept in the process until a rating changes (``lookups``:
    migration memories 0009), so this costs no query."""
    blocked = lookups.cached(("blocked", child.namespace), lambda: frozenset(
        MemoryFeedback.objects.filter(namespace=child.namespace, rating=MemoryFeedback.Rating.VERY_NEGATIVE)
        .values_list("memory_id", flat=True)))
    return [r for r in records if not r.blocked and r.id not in blocked]


def _newest_first(record: MemoryRecord):
    return (record.created_at.isoformat() if record.created_at else "", record.id)


def context_block(records: list[MemoryRecord]) -> str:
    lines = []
    for record in records:
        at = timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M") if record.created_at else "undated"
        text = " ".join(record.text.split())  # one memory, one line
        lines.append(f"- [{at}] {text}")
    return "\n".join(lines)


def usage_record(device: Device, namespace: str, memory_ids: list[str]) -> None:
    """Count each served memory once more (and when). In a web server process the counts
    wait in the process and are written in batches off the request path (``portal.batches``);
    elsewhere (tests, commands) they are written now, in one statement."""
    ids = sorted(set(memory_ids))
    if not ids or device.child_id is None:
        return
    now = timezone.now()
    epoch = device.child.memory_epoch
    _usage.add({(memory_id, device.pk): [namespace, device.child_id, epoch, 1, now] for memory_id in ids})


def _usage_write(rows: dict) -> None:
    """Add the counts in one statement. A count of a child whose memories were erased since
    it was served (the epoch moved: ``erasure_start``) is not written, so an erasure's
    verified zero stays zero; the child's row is share-locked meanwhile, so an erasure
    starting now waits for this statement."""
    if not rows:
        return
    table = MemoryUsage._meta.db_table
    columns = list(zip(*[(m, v[0], d, v[1], v[2], v[3], v[4]) for (m, d), v in rows.items()], strict=True))
    with connection.cursor() as cur:
        cur.execute(
            f'INSERT INTO "{table}" AS u (memory_id, namespace, device_id, count, last_used_at) '
            "SELECT r.memory_id, r.namespace, r.device_id, r.count, r.at FROM unnest("
            "%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::int[], %s::int[], %s::timestamptz[]) "
            "AS r(memory_id, namespace, device_id, child_id, epoch, count, at) "
            f'JOIN "{ChildProfile._meta.db_table}" c ON c.id = r.child_id AND c.memory_epoch = r.epoch '
            f'JOIN "{Device._meta.db_table}" d ON d.id = r.device_id '
            "ORDER BY r.memory_id, r.device_id FOR SHARE OF c "
            "ON CONFLICT (memory_id, device_id) DO UPDATE SET count = u.count + EXCLUDED.count, "
            "last_used_at = greatest(u.last_used_at, EXCLUDED.last_used_at)",
            [list(c) for c in columns],
        )


def _usage_merge(held: dict, rows: dict) -> dict:
    """Newer counts on top of held ones: added up, unless the child's epoch moved between
    them (then the newer ones replace them: the older would not be written anyway)."""
    for key, (namespace, child_id, epoch, count, at) in rows.items():
        kept = held.get(key)
        if kept is None or kept[2] != epoch:
            held[key] = [namespace, child_id, epoch, count, at]
        else:
            kept[3] += count
            kept[4] = max(kept[4], at)
    return held


_usage = batches.Batch("usage counts", _usage_write, empty=dict, merge=_usage_merge,
                       size=lambda rows: sum(v[3] for v in rows.values()))


# -- conversations ----------------------------------------------------------------------

def _body_hash(messages: list[dict]) -> str:
    canonical = json.dumps([{"role": m["role"], "content": m["content"]} for m in messages],
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(existing: Conversation, body_hash: str) -> tuple[Conversation, bool]:
    """The first conversation under a key, when the body is the same; a different body
    under a used key is a client bug that must not be answered as a success (409)."""
    if existing.body_hash and existing.body_hash != body_hash:
        raise ApplicationError("This Idempotency-Key was already used for a different conversation.",
                               field="idempotency_key", code="idempotency_conflict", extra={"status": 409})
    return existing, False


def conversation_accept(*, device: Device, messages: list[dict], idempotency_key: str = "") -> tuple[Conversation, bool]:
    """Store a finished session for extraction (after commit), or drop it when memory is off.
    Returns the row and whether it is new; the same key again returns the first row (the
    same key with other messages: ``ApplicationError`` ``idempotency_conflict``, 409)."""
    idempotency_key = (idempotency_key or "").strip()
    body_hash = _body_hash(messages)
    if idempotency_key:
        existing = Conversation.objects.filter(device=device, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, body_hash)
    kept = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
    child = device.child
    reason = memory_off_reason(device, learning=True) or ("" if kept else "empty")
    fields = {"state": State.DROPPED, "drop_reason": reason, "messages": []} if reason else {"messages": kept}
    fields["body_hash"] = body_hash
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(device=device, child=child, epoch=child.memory_epoch,
                                                       agent=device.agent, idempotency_key=idempotency_key,
                                                       **fields)
            if not reason:
                _enqueue(conversation.pk)
    except IntegrityError:  # the same key, posted twice at once
        existing = Conversation.objects.filter(device=device, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, body_hash)
    return conversation, True


def _enqueue(conversation_id: int) -> None:
    enqueue_on_commit("memories.tasks.conversation_extract", conversation_id)


def _drop(conversation: Conversation, reason: str) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(state=State.DROPPED, drop_reason=reason, messages=[],
                                                           sent_at=None, updated_at=timezone.now())


def _erased_since(conversation: Conversation) -> bool:
    """An erase of the child started after this conversation was accepted (or it is gone)."""
    epoch = ChildProfile.objects.filter(pk=conversation.child_id).values_list("memory_epoch", flat=True).first()
    still_there = Conversation.objects.filter(pk=conversation.pk).exists()
    return epoch is None or epoch != conversation.epoch or not still_there


def conversation_extract(conversation_id: int) -> None:
    """Mem0 extraction with the agent's memory prompt into the child's namespace, then the
    raw messages are deleted. A failure is recorded on the row (the sweep retries it).

    An erase of the child's memories that starts before or while this runs wins: the
    conversation is dropped, or what it added is deleted again (the epoch check after the
    add), so an erased memory never comes back."""
    conversation = queue.claim(Conversation, conversation_id, related=("agent", "child"))
    if conversation is None:
        return
    child, agent = conversation.child, conversation.agent
    reason = _off_reason(agent, child, learning=True) or ("erased" if _erased_since(conversation) else "")
    if reason:  # switched off, paused or erased since it was accepted
        _drop(conversation, reason)
        return
    gw = gateway.get()
    metadata = {"kind": LEARNED_KIND, "conversation_id": conversation.pk}
    if conversation.device_id:
        metadata["device_id"] = str(conversation.device_id)
    if agent is not None:
        metadata["toy_agent_id"] = str(agent.pk)
    try:
        ids = gw.add_conversation(child.namespace, conversation.messages,
                                  prompt=(agent.memory_prompt if agent else None), metadata=metadata)
    except LLMNotConfigured as exc:
        queue.fail(conversation, exc, "No LLM is configured (set LLM_BASE_URL): kept until one is.")
        return
    except Mem0Unavailable as exc:
        queue.fail(conversation, exc, f"Mem0 unavailable ({str(exc)[:100]}).")
        return
    except Exception as exc:  # the LLM down or answering nonsense: kept, the sweep retries
        queue.fail(conversation, exc, "extraction failed.")
        return
    if _erased_since(conversation):  # an erase started while the LLM was working
        gw.delete(ids)
        _drop(conversation, "erased")
        return
    _done(conversation, child.namespace, ids)
    _categorise(ids, agent, child.pk)


def _done(conversation: Conversation, namespace: str, ids: list[str]) -> None:
    now = timezone.now()
    with transaction.atomic():
        MemoryChange.objects.bulk_create([
            MemoryChange(memory_id=memory_id, namespace=namespace, event="ADD", actor=None,
                         actor_role=TOY_ROLE, created_at=now)
            for memory_id in ids
        ])
        queue.done(conversation, messages=[], memories_added=len(ids))


def _categorise(ids: list[str], agent, child_id: int | None) -> None:
    """Tag the new memories with the agent's categories. Best effort: the memories exist
    already, so a failure here must not re-extract."""
    if not ids:
        return
    from memories import categories

    try:
        gw = gateway.get()
        records = [r for r in (gw.get(i) for i in ids) if r is not None]
        categories.categorise_missing(records, categories.from_agent(agent.categories if agent else None))
    except Exception:  # the memories_categorise task gives them one (retried, with backoff)
        log.warning("categorising new memories failed", exc_info=True)
        if child_id is not None:
            enqueue_on_commit("memories.tasks.memories_categorise", child_id)
