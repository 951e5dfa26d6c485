from django.utils.translation import gettext_lazy as _

from portal.access import role_of
from portal.models import AuditEvent


def audit(*, actor, action: str, household=None, child=None, count: int = 0, **detail) -> AuditEvent:
    """Record an action. ``detail`` holds ids and counts only, never memory text."""
    event = audit_entry(actor=actor, action=action, household=household, child=child, count=count, **detail)
    event.save(force_insert=True)
    return event


def audit_entry(*, actor, action: str, household=None, child=None, count: int = 0, **detail) -> AuditEvent:
    """The entry ``audit`` records, timed now and not saved yet (for entries written later,
    in a batch: ``memories.mem0_compat``)."""
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_role=role_of(actor) or "system",
        household=household if household is not None else getattr(child, "household", None),
        child_id=getattr(child, "pk", None),
        child_name=getattr(child, "name", ""),
        action=action,
        count=count,
        detail=detail,
    )  # created_at: now (its default)


def audit_refusal(request, what: str) -> None:
    audit(actor=request.user, action="access.refused", path=request.path, view=what)


# -- the activity log in the parent's words ---------------------------------------------------
# Every action written with ``audit`` reads as a parent would say it (the machine name stays in
# the database and in exports). tests/portal/test_activity_words.py fails for an action in the
# code that has no words here.

ACTION_LABELS = {
    "access.refused": _("Tried to open a page their role does not allow"),
    "agent.devices": _("Changed which toys use an agent"),
    "agent.playground": _("Tried a memory prompt in the playground"),
    "agent.rollback": _("Went back to an earlier memory prompt"),
    "agent.save": _("Changed an agent"),
    "child.create": _("Added a child"),
    "child.update": _("Changed a child's profile"),
    "consent.approve": _("Consent checked and confirmed"),
    "consent.reject": _("Consent form not accepted"),
    "consent.given": _("Gave consent"),
    "consent.request": _("Started giving consent"),
    "consent.submit": _("Sent the signed consent form"),
    "consent.withdraw": _("Withdrew consent"),
    "deletion.request": _("Asked for data to be deleted"),
    "deletion.verify": _("Support confirmed who asked for deletion"),
    "deletion.schedule": _("Deletion scheduled"),
    "deletion.execute": _("Deletion started"),
    "deletion.completed": _("Deletion finished and checked"),
    "deletion.failed": _("Deletion failed; it will be tried again"),
    "deletion.retry": _("Deletion tried again"),
    "device.assign": _("Moved or unlinked a toy"),
    "device.pair": _("Paired a toy"),
    "device.register": _("Registered a toy"),
    "device.remove": _("Removed a toy"),
    "device.rename": _("Renamed a toy"),
    "erasure.start": _("Started erasing memories"),
    "erasure.done": _("Memories erased and checked"),
    "export.csv": _("Downloaded memories (spreadsheet)"),
    "export.json": _("Downloaded memories (JSON file)"),
    "export.household": _("Downloaded everything the household holds"),
    "export.download": _("Downloaded a prepared export"),
    "export.start": _("Started preparing an export"),
    "household.invite": _("Invited a parent"),
    "household.invite_revoke": _("Withdrew an invitation"),
    "household.join": _("Joined the household"),
    "household.member_remove": _("Removed a parent from the household"),
    "household.close": _("Closed the household's account"),
    "household.reopen": _("Reopened the household's account"),
    "household.retention": _("Changed how long memories are kept"),
    "memory.add": _("Added a memory"),
    "memory.adopt": _("Added what a toy remembered before to the child's memories"),
    "memory.adopt_start": _("Chose to keep what a toy remembered before"),
    "memory.category": _("Changed a memory's category"),
    "memory.correct": _("Corrected a memory"),
    "memory.delete": _("Deleted memories"),
    "memory.delete_all": _("Deleted everything the toy remembered"),
    "memory.delete_start": _("Started deleting memories"),
    "memory.delete_cancel": _("Undid a deletion"),
    "memory.rate": _("Rated a memory"),
    "pairing.code": _("Made a code to pair a toy"),
    "pairing.refused": _("A toy pairing was refused"),
    "queue.retry": _("Sent failed work again"),
    "role.assign": _("Changed someone's role"),
    "token.create": _("Created a toy server key"),
    "token.revoke": _("Revoked a toy server key"),
    # toy.<call>[.<outcome>]: what a toy (through its server) did with the child's memory
    "toy.add": _("The toy sent a conversation to learn from"),
    "toy.event": _("The toy checked on a conversation"),
    "toy.feedback": _("The toy passed on feedback about a memory"),
    "toy.get": _("The toy read a memory"),
    "toy.list": _("The toy read its memories"),
    "toy.ping": _("The toy's server checked the connection"),
    "toy.refused": _("A toy's request was refused"),
    "toy.search": _("The toy recalled memories"),
}
OUTCOME_LABELS = {
    "refused": _("refused"),
    "paused": _("nothing given: memory is paused"),
    "memory_off": _("nothing given: memory is off"),
    "erasing": _("nothing given: memories are being erased"),
}
ROLE_LABELS = {"parent": _("A parent"), "support": _("Support"), "admin": _("An admin"),
               "system": _("The portal")}


def action_label(action: str) -> str:
    """``memory.delete_start`` → "Started deleting memories"; a toy call's outcome follows
    in brackets; anything unknown is still readable ("Something else (memory.x)")."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    base, _sep, outcome = action.rpartition(".")
    if base in ACTION_LABELS:
        extra = OUTCOME_LABELS.get(outcome, outcome.replace("_", " "))
        return f"{ACTION_LABELS[base]} ({extra})"
    return _("Something else (%(action)s)") % {"action": action}


def actor_label(event: AuditEvent) -> str:
    if event.actor is not None:
        return event.actor.email or event.actor.username
    if event.action.startswith("toy."):
        return str(_("A toy"))
    return str(ROLE_LABELS.get(event.actor_role, event.actor_role))
