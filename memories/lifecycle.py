"""A family's life in the portal where it touches the memories: consent withdrawn (keep
paused or erase), a toy removed (the last one: keep or erase), retention, and a household
closed or left inactive. Every erase goes through the one erase path (``memories.erasure``)."""

from __future__ import annotations

from django.db import transaction

from devices import consent, toys
from devices.models import ChildProfile
from memories.erasure import erasure_start
from memories.models import Erasure
from portal.errors import ApplicationError


def consent_withdraw(*, actor, child: ChildProfile, purposes, choice: str) -> Erasure | None:
    """Withdraw at once; with ``choice="erase"`` the child's memories are erased (receipt)."""
    with transaction.atomic():
        consent.consent_withdraw(actor=actor, child=child, purposes=purposes, choice=choice)
        stops_memory = set(purposes or []) & {consent.Purpose.COLLECTION, consent.Purpose.MEM0_PLATFORM}
        if stops_memory and choice == consent.Withdrawal.ERASE:
            return erasure_start(scope=Erasure.Scope.MEMORIES, origin="consent_withdrawn", actor=actor, child=child)
    return None


def toy_remove(*, actor, device, erase: bool = False) -> Erasure | None:
    """Remove a toy. The child's memories stay with the child, unless this was the child's
    last toy and the parent chose to erase them (the one erase path, with a receipt)."""
    with transaction.atomic():
        child = device.child
        erasure = None
        if erase:
            if not toys.is_last_toy(device):
                raise ApplicationError("Erasing goes with removing the child's last toy only.", field="choice")
            erasure = erasure_start(scope=Erasure.Scope.MEMORIES, origin="toy_removed", actor=actor, child=child)
        toys.device_remove(actor=actor, device=device)
    return erasure
