"""Reads scoped to the acting user. Views and API routes never query user-owned data
directly: an object outside the user's households is simply not found (404)."""

import calendar

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from devices.models import ChildProfile, Device, Household, ProfileSync
from portal.access import STAFF_ROLES, role_of


def households_for(user) -> QuerySet[Household]:
    if not user.is_authenticated:
        return Household.objects.none()
    return Household.objects.filter(memberships__user=user)


def children_for(user) -> QuerySet[ChildProfile]:
    return ChildProfile.objects.filter(household__in=households_for(user)).select_related("household")


def child_for(user, pk) -> ChildProfile:
    child = (
        children_for(user)
        .prefetch_related(Prefetch("devices", queryset=Device.objects.select_related("agent")))
        .filter(pk=pk)
        .first()
    )
    if child is None:
        raise Http404("No such child in your household.")
    return child


def devices_for(user) -> QuerySet[Device]:
    return Device.objects.filter(household__in=households_for(user)).select_related("child", "agent")


def device_for(user, pk) -> Device:
    device = devices_for(user).filter(pk=pk).first()
    if device is None:
        raise Http404("No such device in your household.")
    return device


def child_namespaces(child: ChildProfile) -> list[str]:
    """The Mem0 namespaces whose memories are this child's: exactly one, the child's own."""
    return [child.namespace]


def sync_state(child: ChildProfile) -> dict:
    """What the parent sees of the profile push: synced at …, pending, "Failed — retrying",
    or "Failed — support has been told" (dead: admins see it and retry it). The newest push
    decides: each one writes the whole profile, so a later success covers an earlier failure."""
    rows = ProfileSync.objects.filter(child=child)
    latest = rows.order_by("-created_at", "-id").first()
    if latest is not None and latest.state != ProfileSync.State.DONE:
        return {"state": latest.state, "label": latest.get_state_display(), "attempts": latest.attempts,
                "since": latest.created_at}
    done = rows.filter(state=ProfileSync.State.DONE).order_by(F("done_at").desc(nulls_last=True)).first()
    return {"state": ProfileSync.State.DONE, "label": "Synced", "at": done.done_at if done else None}


def children_with_birthday_today() -> QuerySet[ChildProfile]:
    today = timezone.localdate()
    days = [today.day]
    if today.month == 3 and today.day == 1 and not calendar.isleap(today.year):
        born_feb29 = ChildProfile.objects.filter(birth_date__month=2, birth_date__day=29)
        return ChildProfile.objects.filter(birth_date__month=3, birth_date__day=1) | born_feb29
    return ChildProfile.objects.filter(birth_date__month=today.month, birth_date__day__in=days)


def households_search(user, query: str) -> QuerySet[Household]:
    """Support's search: by household, parent, toy MAC or child name (staff only)."""
    query = (query or "").strip()
    if not query or role_of(user) not in STAFF_ROLES:
        return Household.objects.none()
    return (Household.objects.filter(
        Q(name__icontains=query) | Q(memberships__user__email__icontains=query)
        | Q(memberships__user__username__icontains=query) | Q(devices__mac__icontains=query.lower())
        | Q(children__name__icontains=query)
    ).distinct().annotate(n_devices=Count("devices", distinct=True), n_children=Count("children", distinct=True))
        .order_by("name", "id")[:50])


def household_for_staff(user, pk) -> Household:
    """Any household, for support and admins (404 for anyone else)."""
    household = Household.objects.filter(pk=pk).first() if role_of(user) in STAFF_ROLES else None
    if household is None:
        raise Http404("No such household.")
    return household
