"""Roles and the access checks every view and API route uses. One place decides who may
see what: selectors scope querysets with these helpers; views use the decorators.

Every view carries ``portal_roles`` (set by ``role_required`` or ``public``), so the route
sweep in tests/portal/test_route_sweep.py knows who may reach it and fails on a view that
says nothing."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import redirect
from django.urls import reverse

from portal.errors import ApplicationError


class Role(models.TextChoices):
    PARENT = "parent", "Parent"
    SUPPORT = "support", "Support agent"
    ADMIN = "admin", "Admin"


SUPPORT_GROUP = "Support"
ADMIN_GROUP = "Admin"
ALL_ROLES = (Role.PARENT, Role.SUPPORT, Role.ADMIN)
STAFF_ROLES = (Role.SUPPORT, Role.ADMIN)
PUBLIC = ("public",)  # anyone, logged in or not (login, password reset, invitation links)


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



def has_second_factor(user) -> bool:
    """A TOTP authenticator (django-allauth's): staff cannot work without one."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


SECOND_FACTOR_SESSION_KEY = "portal_second_factor"


def second_factor_ok(request) -> bool:
    """The staff member has TOTP; remembered in the session once seen (deactivating it
    forgets: ``forget_second_factor``)."""
    if request.session.get(SECOND_FACTOR_SESSION_KEY) == request.user.pk:
        return True
    if not has_second_factor(request.user):
        return False
    request.session[SECOND_FACTOR_SESSION_KEY] = request.user.pk
    return True


def forget_second_factor(view):
    """Wrap allauth's "deactivate TOTP": staff must set a new one up before working on."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST":
            request.session.pop(SECOND_FACTOR_SESSION_KEY, None)
        return view(request, *args, **kwargs)

    return wrapper


def second_factor_setup(request):
    """Staff without a second factor are sent to set up TOTP first (then come back)."""
    from django.contrib import messages

    messages.warning(request, "Staff accounts need a second factor: set up an authenticator app to continue.")
    return redirect("mfa_activate_totp")


def role_required(*roles):
    """Login first (anonymous → login page), then the role (wrong role → 403, audited)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            role = role_of(request.user)
            if role not in roles:
                from portal.audit import audit_refusal

                audit_refusal(request, view.__name__)
                raise PermissionDenied("Your role does not allow this.")
            if role in STAFF_ROLES and not second_factor_ok(request):
                return second_factor_setup(request)
            return view(request, *args, **kwargs)

        wrapper.portal_roles = roles
        return wrapper

    return decorator


def public(view):
    """Mark a view that anyone may open (it checks what it needs itself, e.g. a token)."""
    view.portal_roles = PUBLIC
    return view


parent_required = role_required(Role.PARENT)
support_required = role_required(Role.SUPPORT, Role.ADMIN)
admin_required = role_required(Role.ADMIN)
any_role_required = role_required(*ALL_ROLES)


# -- queryset scoping -----------------------------------------------------------------

def scope_to_households(queryset, user, *, field: str = "household"):
    """Rows of ``queryset`` the user may see: a parent those of their households (via
    ``field``, the path to the Household), support and admins every row, anyone else none."""
    role = role_of(user)
    if role in STAFF_ROLES:
        return queryset
    if role == Role.PARENT:
        prefix = f"{field}__" if field else ""
        return queryset.filter(**{f"{prefix}memberships__user": user}).distinct()
    return queryset.none()


# -- roles (admins assign them) -------------------------------------------------------

def role_assign(*, actor, user, role: str) -> None:
    """Give ``user`` exactly one role. Only admins are staff (the Django admin site)."""
    from django.contrib.auth.models import Group

    from portal.audit import audit

    if role not in Role.values:
        raise ApplicationError("Choose parent, support agent or admin.", field="role")
    if user.pk == actor.pk and role != Role.ADMIN:
        raise ApplicationError("You cannot take the admin role from yourself.", field="role")
    previous = role_of(user)
    support, admin = (Group.objects.get_or_create(name=n)[0] for n in (SUPPORT_GROUP, ADMIN_GROUP))
    user.groups.remove(support, admin)
    if role == Role.SUPPORT:
        user.groups.add(support)
    elif role == Role.ADMIN:
        user.groups.add(admin)
    user.is_staff = role == Role.ADMIN
    if role != Role.ADMIN:
        user.is_superuser = False
    user.save(update_fields=["is_staff", "is_superuser"])
    user._portal_role = None
    audit(actor=actor, action="role.assign", user_id=user.pk, role=role, previous=previous)


# -- the Django admin site: admins only -----------------------------------------------

def admin_site_permission(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and role_of(user) == Role.ADMIN)


def site_index(site) -> str:
    return reverse(f"{site.name}:index")


def restrict_admin_site(site) -> None:
    """Only admins reach the Django admin: a logged-in parent or support agent gets a 403
    (audited) instead of the admin's login form; anonymous visitors still go to login."""
    site.has_permission = admin_site_permission
    original_admin_view, original_login = site.admin_view, site.login

    def refuse_if_logged_in(request, what: str):
        if request.user.is_authenticated and not admin_site_permission(request):
            from portal.audit import audit_refusal

            audit_refusal(request, what)
            raise PermissionDenied("Only admins reach the admin site.")

    def admin_view(view, cacheable=False):
        inner = original_admin_view(view, cacheable)

        @wraps(inner)
        def wrapper(request, *args, **kwargs):
            refuse_if_logged_in(request, f"admin:{getattr(view, '__name__', 'view')}")
            if request.user.is_authenticated and not second_factor_ok(request):
                return second_factor_setup(request)
            return inner(request, *args, **kwargs)

        wrapper.portal_roles = (Role.ADMIN,)
        return wrapper

    def login(request, extra_context=None):
        """Our login (its lockouts, then the second factor), never the admin's own form."""
        from django.contrib.auth.views import redirect_to_login

        refuse_if_logged_in(request, "admin:login")
        if request.user.is_authenticated:
            return original_login(request, extra_context)
        return redirect_to_login(request.GET.get("next") or site_index(site))

    site.admin_view = admin_view
    site.login = login
