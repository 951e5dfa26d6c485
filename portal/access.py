"""Roles and the access checks every view and API route uses. One place decides who may
see what: selectors scope querysets with these helpers; views use the decorators."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    PARENT = "parent", "Parent"
    SUPPORT = "support", "Support agent"
    ADMIN = "admin", "Admin"


SUPPORT_GROUP = "Support"
ADMIN_GROUP = "Admin"


def role_of(user) -> str | None:
    if not user or not user.is_authenticated:
        return None
    cached = getattr(user, "_portal_role", None)
    if cached:
        return cached
    groups = {g.name for g in user.groups.all()}
    if user.is_superuser or ADMIN_GROUP in groups:
        role = Role.ADMIN
    elif SUPPORT_GROUP in groups:
        role = Role.SUPPORT
    else:
        role = Role.PARENT
    user._portal_role = role
    return role


def is_staff_role(user) -> bool:
    return role_of(user) in (Role.SUPPORT, Role.ADMIN)


def role_required(*roles):
    """Login first (anonymous → login page), then the role (wrong role → 403)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if role_of(request.user) not in roles:
                from portal.audit import audit_refusal

                audit_refusal(request, view.__name__)
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        wrapper.portal_roles = roles
        return wrapper

    return decorator


parent_required = role_required(Role.PARENT)
support_required = role_required(Role.SUPPORT, Role.ADMIN)
admin_required = role_required(Role.ADMIN)
