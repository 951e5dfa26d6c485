"""A child's data as a download: JSON (documented, versioned) or CSV (one row per memory).

Both stream: memories come from ``gateway.iter_all`` in keyset batches and leave as text
chunks, so memory use stays flat whatever the count.

JSON schema ``memory-portal.child-export``, version 1::

    {
      "schema": "memory-portal.child-export", "version": 1,
      "exported_at": "<ISO 8601>",
      "child": {"id", "name", "birth_date", "gender", "interests", "toy_note", "memory_paused"},
      "devices": [{"id", "name", "mac", "agent"}],
      "memories": [{
        "id", "namespace", "device", "text",
        "kind": "child_profile" | "learned" | "parent",
        "category", "created_at", "updated_at",
        "metadata": {... every key Mem0 keeps besides the text ...},
        "rating": null | {"rating": "POSITIVE" | "NEGATIVE" | "VERY_NEGATIVE", "reason", "rated_at"},
        "history": [{"event": "ADD" | "UPDATE" | "DELETE" | "RATE" | "CATEGORY",
                     "at", "by", "old_text", "new_text"}]
      }, ...],
      "memory_count": <int, the number of items in "memories">
    }

A new field may appear within a version; a removed or changed one bumps the version.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils import timezone
from django.utils.translation import gettext_lazy

from devices.models import Consent, ConsentVerification, Device, Invitation, Membership
from devices.selectors import child_namespaces
from memories import categories, gateway, selectors
from memories.gateway import MemoryRecord
from memories.models import DeletionRequest, Erasure, MemoryChange, MemoryFeedback
from portal.models import AuditEvent, Preferences

SCHEMA = "memory-portal.child-export"
VERSION = 1
BATCH = 500
# Machine values for programs, each followed by the same in words for people (``*_label``).
CSV_FIELDS = ["id", "device", "namespace", "kind", "kind_label", "category", "category_label", "rating",
              "rating_label", "rating_reason", "created_at", "updated_at", "text", "metadata"]
RATING_WORDS = {"POSITIVE": gettext_lazy("Right"), "NEGATIVE": gettext_lazy("Wrong"),
                "VERY_NEGATIVE": gettext_lazy("Never use")}
Progress = Callable[[int], None] | None


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _batches(records: Iterable[MemoryRecord]) -> Iterator[list[MemoryRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _annotated(child, on_progress: Progress) -> Iterator[tuple[MemoryRecord, MemoryFeedback | None, list]]:
    """Each memory with its rating and changes (two queries per batch)."""
    done = 0
    for batch in _batches(gateway.get().iter_all(child_namespaces(child), batch=BATCH)):
        ids = [r.id for r in batch]
        feedback = {f.memory_id: f for f in MemoryFeedback.objects.filter(memory_id__in=ids)}
        changes: dict[str, list] = {}
        for change in MemoryChange.objects.filter(memory_id__in=ids).select_related("actor"):
            changes.setdefault(change.memory_id, []).append(change)
        for record in batch:
            yield record, feedback.get(record.id), changes.get(record.id, [])
        done += len(batch)
        if on_progress:
            on_progress(done)


def _devices(child) -> dict[str, object]:
    return {str(d.pk): d for d in Device.objects.filter(household_id=child.household_id)}


def _memory_json(record: MemoryRecord, feedback, changes, devices) -> dict:
    history = selectors.timeline(record, changes, gateway.get().history(record.id))
    return {
        "id": record.id, "namespace": record.namespace, "device": str(devices.get(str(record.metadata.get("device_id", "")), "")),
        "text": record.text, "kind": record.kind, "category": record.category,
        "created_at": _iso(record.created_at), "updated_at": _iso(record.updated_at),
        "metadata": record.metadata,
        "rating": {"rating": feedback.rating, "reason": feedback.reason, "rated_at": _iso(feedback.updated_at)}
        if feedback else None,
        "history": [{"event": e.event, "at": _iso(e.at), "by": e.by, "old_text": e.old_text,
                     "new_text": e.new_text} for e in history],
    }


def _head(child) -> dict:
    return {
        "schema": SCHEMA, "version": VERSION, "exported_at": timezone.now().isoformat(),
        "child": {"id": child.pk, "name": child.name, "birth_date": _iso(child.birth_date), "gender": child.gender,
                  "interests": child.interests, "toy_note": child.toy_note, "memory_paused": child.memory_paused},
        "devices": [{"id": d.pk, "name": d.name, "mac": d.mac,
                     "agent": str(d.agent) if d.agent else None} for d in child.devices.all()],
    }


def json_chunks(child, on_progress: Progress = None) -> Iterator[str]:
    head = json.dumps(_head(child), ensure_ascii=False)
    yield head[:-1] + ', "memories": ['
    devices, count = _devices(child), 0
    for record, feedback, changes in _annotated(child, on_progress):
        yield ("," if count else "") + "\n" + json.dumps(_memory_json(record, feedback, changes, devices),
                                                         ensure_ascii=False, default=str)
        count += 1
    yield f'\n], "memory_count": {count}}}\n'


def _cell(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: memory text is untrusted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_chunks(child, on_progress: Progress = None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    devices = _devices(child)
    category_labels = categories.labels(categories.for_child(child))
    for record, feedback, _changes in _annotated(child, on_progress):
        writer.writerow({
            "id": record.id, "device": _cell(str(devices.get(str(record.metadata.get("device_id", "")), ""))), "namespace": record.namespace,
            "kind": record.kind, "kind_label": str(record.kind_label), "category": record.category or "",
            "category_label": _cell(str(category_labels.get(record.category, record.category or ""))),
            "rating": feedback.rating if feedback else "",
            "rating_label": str(RATING_WORDS.get(feedback.rating, "")) if feedback else "",
            "rating_reason": _cell(feedback.reason) if feedback else "", "created_at": _iso(record.created_at),
            "updated_at": _iso(record.updated_at), "text": _cell(record.text),
            "metadata": json.dumps(record.metadata, ensure_ascii=False, default=str),
        })
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


CHUNKS = {"json": json_chunks, "csv": csv_chunks}
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


def filename(child, fmt: str) -> str:
    slug = "".join(c for c in child.name if c.isalnum()) or "child"
    return f"memories-{slug}-{timezone.localdate():%Y-%m-%d}.{fmt}"


# -- export files: always through the "exports" storage (settings.STORAGES) ----------------
# The file system under EXPORT_DIR by default, S3-compatible object storage by configuration:
# a file written by one worker is served by any web host.

def export_storage() -> Storage:
    return storages["exports"]


def write_file(child, fmt: str, on_progress: Progress = None) -> str:
    """Write the export to the storage and return its name there."""
    return _save_chunks(CHUNKS[fmt](child, on_progress), fmt)


def _save_chunks(chunks: Iterable[str], ext: str) -> str:
    """Spooled to a local temporary file first, so the storage only ever holds complete files."""
    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            spool.write(chunk.encode("utf-8"))
        spool.seek(0)
        return export_storage().save(f"{uuid.uuid4().hex}.{ext}", File(spool))


def export_file_open(name: str) -> File:
    return export_storage().open(name, "rb")


def export_file_exists(name: str) -> bool:
    return bool(name) and export_storage().exists(name)


def export_file_delete(name: str) -> None:
    """Remove an export file; one that is already gone is fine (erasing may run twice)."""
    if name:
        export_storage().delete(name)


def export_files_remove_older(cutoff: datetime) -> int:
    """Remove files last written before ``cutoff`` (strays a crashed worker left)."""
    storage, removed = export_storage(), 0
    try:
        _dirs, names = storage.listdir("")
    except FileNotFoundError:  # nothing exported on this file system yet
        return 0
    for name in names:
        if storage.get_modified_time(name) < cutoff:
            storage.delete(name)
            removed += 1
    return removed


# -- everything a household holds (GDPR access and portability) ---------------------------------
#
# JSON schema ``memory-portal.household-export``, version 1::
#
#     {
#       "schema": "memory-portal.household-export", "version": 1, "exported_at": "<ISO 8601>",
#       "household": {"id", "name", "created_at"},
#       "members": [{"email", "role", "since", "preferences": {"time_zone", "language", "digest_weekly"}}],
#       "invitations": [{"email", "created_at", "expires_at", "accepted_at"}],
#       "consents": [{"child", "purpose", "purpose_label", "notice_version", "method", "signer_name",
#                     "granted_at", "withdrawn_at", "withdrawal"}],
#       "consent_verifications": [{"reference", "child", "state", "purposes", "notice_version", "method",
#                                  "created_at", "decided_at", "evidence_sha256"}],
#       "deletion_requests": [{"id", "scope", "child", "state", "received_at", "due_at", "completed_at"}],
#       "erasures": [{"reference", "scope", "child", "state", "created_at", "completed_at", "receipt"}],
#       "activity": [{"at", "who", "action", "action_label", "child", "count"}],
#       "children": [{... the child export's "child" and "devices" ..., "memories": [... as in the
#                     child export, with rating and history ...], "memory_count"}],
#       "memory_count": <int, all children>
#     }

HOUSEHOLD_SCHEMA = "memory-portal.household-export"


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _household_head(household) -> dict:
    members = list(Membership.objects.filter(household=household).select_related("user").order_by("created_at"))
    prefs = {p.user_id: p for p in Preferences.objects.filter(user_id__in=[m.user_id for m in members])}
    return {
        "schema": HOUSEHOLD_SCHEMA, "version": VERSION, "exported_at": timezone.now().isoformat(),
        "household": {"id": household.pk, "name": household.name, "created_at": _iso(household.created_at)},
        "members": [{"email": m.user.email or m.user.username, "role": m.role, "since": _iso(m.created_at),
                     "preferences": {"time_zone": prefs[m.user_id].time_zone, "language": prefs[m.user_id].language,
                                     "digest_weekly": prefs[m.user_id].digest_weekly} if m.user_id in prefs else None}
                    for m in members],
        "invitations": [{"email": i.email, "created_at": _iso(i.created_at), "expires_at": _iso(i.expires_at),
                         "accepted_at": _iso(i.accepted_at)}
                        for i in Invitation.objects.filter(household=household).order_by("created_at")],
        "consents": [{"child": c.child.name, "purpose": c.purpose, "purpose_label": str(c.get_purpose_display()),
                      "notice_version": c.notice_version, "method": c.method, "signer_name": c.signer_name,
                      "granted_at": _iso(c.granted_at), "withdrawn_at": _iso(c.withdrawn_at),
                      "withdrawal": c.withdrawal}
                     for c in Consent.objects.filter(household=household).select_related("child")],
        "consent_verifications": [
            {"reference": v.reference, "child": v.child.name, "state": v.state, "purposes": v.purposes,
             "notice_version": v.notice_version, "method": v.method, "created_at": _iso(v.created_at),
             "decided_at": _iso(v.decided_at), "evidence_sha256": v.evidence_sha256}
            for v in ConsentVerification.objects.filter(household=household).select_related("child")],
        "deletion_requests": [
            {"id": r.pk, "scope": r.scope, "child": r.child_name, "state": r.state, "received_at": _iso(r.received_at),
             "due_at": _iso(r.due_at), "completed_at": _iso(r.completed_at)}
            for r in DeletionRequest.objects.filter(household=household).order_by("received_at")],
        "erasures": [
            {"reference": e.reference, "scope": e.scope, "child": e.child_name, "state": e.state,
             "created_at": _iso(e.created_at), "completed_at": _iso(e.completed_at), "receipt": e.receipt}
            for e in Erasure.objects.filter(household=household).order_by("created_at")],
    }


def _activity(household) -> Iterator[dict]:
    events = AuditEvent.objects.filter(household=household).select_related("actor").order_by("created_at", "id")
    for e in events.iterator(chunk_size=BATCH):
        yield {"at": _iso(e.created_at), "who": e.actor_label, "action": e.action, "action_label": e.action_label,
               "child": e.child_name, "count": e.count}


def household_json_chunks(household, on_progress: Progress = None) -> Iterator[str]:
    """Streams like the child export: the head, then the activity and each child's memories
    one by one; ``on_progress`` gets the number of memories written so far."""
    head = _dump(_household_head(household))
    yield head[:-1] + ', "activity": ['
    for n, event in enumerate(_activity(household)):
        yield ("," if n else "") + "\n" + _dump(event)
    yield '\n], "children": ['
    total = 0
    for n, child in enumerate(household.children.prefetch_related("devices__agent").order_by("pk")):
        child_head = _head(child)
        yield ("," if n else "") + "\n" + _dump({**child_head["child"], "devices": child_head["devices"]})[:-1] \
            + ', "memories": ['
        devices, count = _devices(child), 0

        def progress(done: int, before=total) -> None:
            if on_progress:
                on_progress(before + done)

        for record, feedback, changes in _annotated(child, progress):
            yield ("," if count else "") + "\n" + _dump(_memory_json(record, feedback, changes, devices))
            count += 1
        total += count
        yield f'\n], "memory_count": {count}}}'
    yield f'\n], "memory_count": {total}}}\n'


def household_filename(household) -> str:
    slug = "".join(c for c in household.name if c.isalnum()) or "household"
    return f"household-{slug}-{timezone.localdate():%Y-%m-%d}.json"


def write_household_file(household, on_progress: Progress = None) -> str:
    return _save_chunks(household_json_chunks(household, on_progress), "json")
