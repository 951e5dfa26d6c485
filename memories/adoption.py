"""What a toy remembered before it came to the portal.

A family switching an existing toy server over (``MemoryClient`` pointed at the portal)
may have memories in Mem0 under the toy's MAC address, written by that server before.
Nothing of it is served: toys read only their child's namespace. When such a toy is linked
to a child, the parent sees how many there are and chooses:

* adopt: each one is copied into the child's memories (learned, from that toy, with the
  id it came from, so a rerun copies nothing twice), then the MAC namespaces are erased
  through the one erase path (an ``Erasure`` of scope "namespace", verified to zero);
* erase: the MAC namespaces are erased through the same path, nothing copied.

A second-hand toy may hold another family's child's memories: the parent sees a count, never
the words, until they adopt. Works on both gateway backends."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from devices.models import Device
from memories import gateway
from memories.erasure import OPEN, erasure_start
from memories.gateway import LEARNED_KIND
from memories.models import Erasure, MemoryChange
from portal.audit import audit
from portal.errors import ApplicationError
from portal.queue import enqueue_on_commit

ADOPT_LOCK = 73_010  # pg_advisory_lock class: one adoption per toy at a time


def toy_namespaces(device: Device) -> list[str]:
    """The ways a toy server spells the toy's MAC as a Mem0 ``user_id``."""
    bare = device.mac.replace(":", "")
    dashed = device.mac.replace(":", "-")
    return sorted({spelling for form in (device.mac, bare, dashed) for spelling in (form, form.upper())})


def earlier_count(device: Device) -> int:
    """How many memories the toy's MAC namespaces hold (one request on either backend)."""
    return gateway.get().count(toy_namespaces(device))


def earlier_erasing(device: Device) -> bool:
    return Erasure.objects.filter(state__in=OPEN, scope=Erasure.Scope.NAMESPACE,
                                  namespaces__contains=[device.mac]).exists()


def earlier_adopt(*, actor, device: Device) -> None:
    """The parent adopts them into the child the toy is linked to: a task copies them, then
    erases the MAC namespaces."""
    if device.child_id is None:
        raise ApplicationError("Link the toy to a child first: its memories would be that child's.", field="device")
    if earlier_erasing(device) or not earlier_count(device):
        raise ApplicationError("There is nothing from before to adopt (any more).", field="device")
    with transaction.atomic():
        audit(actor=actor, action="memory.adopt_start", household=device.household, child=device.child,
              device_id=device.pk)
        enqueue_on_commit("memories.tasks.toy_memories_adopt", device.pk, device.child_id, actor.pk)


def earlier_erase(*, actor, device: Device) -> Erasure:
    """The parent erases them: every spelling of the MAC, through the one erase path."""
    if earlier_erasing(device):
        raise ApplicationError("They are being erased already.", field="device")
    return erasure_start(scope=Erasure.Scope.NAMESPACE, origin="parent", actor=actor, household=device.household,
                         namespaces=toy_namespaces(device))


def adopt_run(device_id: int, child_id: int, actor_id: int | None) -> int:
    """Copy what the toy's MAC namespaces hold into the child's namespace, then erase them.
    Returns how many were copied by this run. A toy moved to another child (or unlinked)
    since the parent chose adopts nothing: the parent chooses again."""
    device = Device.objects.select_related("child", "household", "agent").filter(pk=device_id,
                                                                                 child_id=child_id).first()
    if device is None or not _lock(device_id):
        return 0
    try:
        copied = _copy(device, actor_id)
        if not earlier_erasing(device):
            erasure_start(scope=Erasure.Scope.NAMESPACE, origin="adoption", household=device.household,
                          namespaces=toy_namespaces(device))
        actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
        audit(actor=actor, action="memory.adopt", household=device.household, child=device.child, count=copied,
              device_id=device.pk)
        if copied:
            enqueue_on_commit("memories.tasks.memories_categorise", child_id)  # after commit; a task without a row
        return copied
    finally:
        _unlock(device_id)


def _copy(device: Device, actor_id: int | None) -> int:
    gw, child = gateway.get(), device.child
    adopted = {r.metadata.get("adopted_from") for r in gw.iter_all([child.namespace])}
    metadata = {"kind": LEARNED_KIND, "device_id": str(device.pk)}
    if device.agent_id:
        metadata["toy_agent_id"] = str(device.agent_id)
    copied = 0
    for record in list(gw.iter_all(toy_namespaces(device))):
        if record.id in adopted:
            continue
        added = gw.add(child.namespace, record.text, {**metadata, "adopted_from": record.id})
        MemoryChange.objects.create(memory_id=added.id, namespace=child.namespace, event="ADD", actor_id=actor_id,
                                    actor_role="parent")
        copied += 1
    return copied


def _lock(device_id: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADOPT_LOCK, device_id])
        return cur.fetchone()[0]


def _unlock(device_id: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, %s)", [ADOPT_LOCK, device_id])
