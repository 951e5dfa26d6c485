"""A family's life in the portal where it touches the memories: consent withdrawn (keep
paused or erase), a toy removed (the last one: keep or erase), retention, and a household
closed or left inactive. Every erase goes through the one erase path (``memories.erasure``)."""

from __future__ import annotations

from django.db import transaction

from devices import consent
from devices.models import ChildProfile
from memories.erasure import erasure_start
from memories.models import Erasure


def consent_withdraw(*, actor, child: ChildProfile, purposes, choice: str) -> Erasure | None:
    """Withdraw at once; with ``choice="erase"`` the child's memories are erased (receipt)."""
    with transaction.atomic():
        consent.consent_withdraw(actor=actor, child=child, purposes=purposes, choice=choice)
        stops_memory = set(purposes or []) & {consent.Purpose.COLLECTION, consent.Purpose.MEM0_PLATFORM}
        if stops_memory and choice == consent.Withdrawal.ERASE:
            return erasure_start(scope=Erasure.Scope.MEMORIES, origin="consent_withdrawn", actor=actor, child=child)
    return None
