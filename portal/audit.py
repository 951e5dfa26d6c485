from portal.access import role_of
from portal.models import AuditEvent


def audit(*, actor, action: str, household=None, child=None, count: int = 0, **detail) -> AuditEvent:
    """Record an action. ``detail`` holds ids and counts only, never memory text."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_role=role_of(actor) or "system",
        household=household if household is not None else getattr(child, "household", None),
        child_id=getattr(child, "pk", None),
        child_name=getattr(child, "name", ""),
        action=action,
        count=count,
        detail=detail,
    )


def audit_refusal(request, what: str) -> None:
    audit(actor=request.user, action="access.refused", path=request.path, view=what)
