"""Keeping the toys' view of a child in Mem0: the profile memory and device resets.

Called by the outbox task with a claimed row. Each function is idempotent: it writes the
current state, whatever ran before."""

from devices.models import ChildProfile, Device
from devices.profile import profile_metadata, profile_text
from memories import gateway
from memories.gateway import PROFILE_KIND, ListFilter


def _profile_memories(namespace: str):
    return gateway.get().list([namespace], limit=100, flt=ListFilter(kinds=(PROFILE_KIND,))).items


def profile_upsert(child: ChildProfile, namespace: str) -> None:
    """Exactly one profile memory in the namespace, with the current text."""
    gw = gateway.get()
    text = profile_text(child)
    existing = _profile_memories(namespace)
    keep = next((m for m in existing if m.metadata.get("child_id") == child.pk), None)
    extra = [m.id for m in existing if keep is None or m.id != keep.id]
    if extra:
        gw.delete(extra)
    if keep is None:
        gw.add(namespace, text, profile_metadata(child))
        return
    if keep.text != text:
        gw.update(keep.id, text=text)
    gw.set_metadata(keep.id, **profile_metadata(child))


def child_push(child: ChildProfile) -> None:
    """The profile into every namespace of the child's devices (not those awaiting a reset:
    the reset writes it after the purge)."""
    for device in child.devices.filter(memory_reset_pending=False):
        profile_upsert(child, device.namespace)


def device_reset(device: Device) -> int:
    """Erase everything the device learned, then give it its current child's profile."""
    from memories.models import MemoryChange, MemoryFeedback, MemoryUsage

    namespace = device.namespace
    known = set(MemoryChange.objects.filter(namespace=namespace).values_list("memory_id", flat=True))
    known |= set(MemoryFeedback.objects.filter(namespace=namespace).values_list("memory_id", flat=True))
    erased = gateway.get().purge_namespace(namespace, known_ids=known)
    MemoryChange.objects.filter(namespace=namespace).delete()
    MemoryFeedback.objects.filter(namespace=namespace).delete()
    MemoryUsage.objects.filter(device=device).delete()
    Device.objects.filter(pk=device.pk).update(memory_reset_pending=False)
    if device.child_id:
        profile_upsert(device.child, namespace)
    return erased
