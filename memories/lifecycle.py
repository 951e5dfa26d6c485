"""A family's life in the portal where it touches the memories: consent withdrawn (keep
paused or erase), a toy removed (the last one: keep or erase), retention, and a household
closed or left inactive. Every erase goes through the one erase path (``memories.erasure``)."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from devices import consent, toys
from devices.models import ChildProfile, Household
from memories import gateway
from memories.erasure import OPEN, erasure_run, erasure_start, receipt_rows
from memories.gateway import LEARNED_KIND, ListFilter
from memories.models import Erasure
from portal import preferences
from portal.audit import audit
from portal.errors import ApplicationError
from portal.models import Preferences


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


# -- retention -------------------------------------------------------------------------------

def months_before(moment: datetime, months: int) -> datetime:
    """The same time ``months`` calendar months earlier (the 31st → the month's last day)."""
    years, month0 = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + years, month0 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def retention_cutoff(household: Household, now: datetime) -> datetime | None:
    """Learned memories created before this are erased (None: kept until a parent deletes)."""
    return months_before(now, household.retention_months) if household.retention_months else None


def retention_run(*, now: datetime | None = None) -> list[Erasure]:
    """Daily (beat): each household's learned memories older than its retention period
    are erased through the one erase path (scope "selected", origin "retention"), verified,
    with a receipt and entries in the household's activity log. Memories a parent added,
    and the profile, stay. Running it again finds nothing more to erase."""
    now = now or timezone.now()
    gw = gateway.get()
    erased = []
    for household in Household.objects.filter(retention_months__isnull=False).order_by("pk"):
        cutoff = retention_cutoff(household, now)
        for child in household.children.order_by("pk"):
            pending = Erasure.objects.filter(child=child, scope=Erasure.Scope.SELECTED, state__in=OPEN).first()
            if pending is None:
                flt = ListFilter(kinds=(LEARNED_KIND,), created_to=cutoff)
                ids = [r.id for r in gw.iter_all([child.namespace], flt=flt)]
                if not ids:
                    continue
                pending = erasure_start(scope=Erasure.Scope.SELECTED, origin="retention", child=child,
                                        memory_ids=ids, enqueue=False)
            erased.append(erasure_run(pending.pk))
    return erased


# -- closing a household (by a parent, or after long inactivity) ---------------------------

def _base_url() -> str:
    return getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def _mail_each(users, build) -> None:
    """One email to each of ``users``, in the language they chose (``portal.Preferences``,
    else the site's): ``build()`` returns (subject, body) and is run with it active."""
    users = [u for u in users if u.email]
    chosen = dict(Preferences.objects.filter(user__in=users).values_list("user_id", "language"))
    for user in users:
        with translation.override(preferences.valid_language(chosen.get(user.pk)) or settings.LANGUAGE_CODE):
            subject, body = build()
        send_mail(subject, body, None, [user.email])


def _close_notice(household: Household) -> None:
    """Each parent is told when everything goes, with a link to export each child first."""
    links = "\n".join(f"- {child.name}: {_base_url()}{reverse('memories:export', args=[child.pk])}"
                      for child in household.children.order_by("name"))
    reopen = _base_url() + reverse("household:detail")

    def build() -> tuple[str, str]:
        why = (_("you closed it") if household.close_reason == "parent"
               else _("nobody used it for %(days)s days") % {"days": settings.HOUSEHOLD_INACTIVE_DAYS})
        body = "\n".join([
            _('The household "%(name)s" is closed (%(why)s): the toys no longer remember anything.')
            % {"name": household.name, "why": why}, "",
            _("On %(date)s everything is erased: the children's memories, profiles and toys. "
              "Download a final copy before then:") % {"date": f"{household.erase_after:%Y-%m-%d}"},
            links or "- " + _("(no children)"), "",
            _("Changed your mind? Log in before then and reopen it: %(url)s") % {"url": reopen},
            _("You will get a receipt once it is erased."), ""])
        return _("Your household will be erased"), body

    users = [m.user for m in household.memberships.select_related("user")]
    transaction.on_commit(lambda: _mail_each(users, build))


def household_close(*, actor, household: Household, reason: str = "parent",
                    now: datetime | None = None) -> Household:
    """Close: memory stops at once (``conversations._off_reason``: "closed"), parents get a
    final export link, and ``households_sweep`` erases it all after the notice period."""
    now = now or timezone.now()
    days = settings.HOUSEHOLD_CLOSE_NOTICE_DAYS if reason == "parent" else settings.HOUSEHOLD_INACTIVE_NOTICE_DAYS
    with transaction.atomic():
        if not Household.objects.filter(pk=household.pk, closed_at__isnull=True).update(
                closed_at=now, close_reason=reason, erase_after=now + timedelta(days=days)):
            raise ApplicationError("This household is closed already.", code="closed")
        household.refresh_from_db()
        audit(actor=actor, action="household.close", household=household, reason=reason,
              erase_after=household.erase_after.isoformat())
        _close_notice(household)
    return household


def household_reopen(*, actor, household: Household) -> Household:
    with transaction.atomic():
        if not Household.objects.filter(pk=household.pk, closed_at__isnull=False).update(
                closed_at=None, close_reason="", erase_after=None):
            raise ApplicationError("This household is open.", code="open")
        audit(actor=actor, action="household.reopen", household=household)
    household.refresh_from_db()
    return household


def last_active(household: Household) -> datetime:
    """The latest of: created, a parent's login, a toy seen."""
    moments = [household.created_at]
    moments += [d for d in household.memberships.values_list("user__last_login", flat=True) if d]
    moments += [d for d in household.devices.values_list("last_seen_at", flat=True) if d]
    return max(moments)


def _receipt_mail(erasure: Erasure) -> None:
    users = get_user_model().objects.filter(pk__in=erasure.member_ids).exclude(email="")
    url = _base_url() + reverse("privacy:erasure_detail", args=[erasure.reference])

    def build() -> tuple[str, str]:
        body = (_('Everything of the household "%(name)s" is erased and checked: reference %(reference)s, '
                  "completed %(completed)s UTC.") % {"name": erasure.household_name, "reference": erasure.reference,
                                                      "completed": f"{erasure.completed_at:%Y-%m-%d %H:%M}"}
                + "\n\n" + "\n".join(f"- {label}: {count}" for label, count in receipt_rows(erasure.receipt))
                + "\n\n" + _("The receipt stays here: %(url)s") % {"url": url} + "\n")
        return _("Erased: %(reference)s") % {"reference": erasure.reference}, body

    _mail_each(list(users), build)
    Erasure.objects.filter(pk=erasure.pk).update(receipt={**erasure.receipt, "emailed_at": timezone.now().isoformat()})


def households_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Daily (beat): close households inactive past ``HOUSEHOLD_INACTIVE_DAYS`` (notice and
    final export link), reopen an inactive-closed one a parent came back to, erase those
    whose notice ran out (the one erase path, scope household), and mail each receipt."""
    now = now or timezone.now()
    done = {"closed": 0, "reopened": 0, "erased": 0, "receipts": 0}
    idle = now - timedelta(days=settings.HOUSEHOLD_INACTIVE_DAYS)
    for household in Household.objects.filter(closed_at__isnull=True, created_at__lt=idle):
        if last_active(household) < idle:
            household_close(actor=None, household=household, reason="inactive", now=now)
            done["closed"] += 1
    for household in Household.objects.filter(close_reason="inactive", erase_after__gt=now):
        if last_active(household) > household.closed_at:
            household_reopen(actor=None, household=household)
            done["reopened"] += 1
    for household in Household.objects.filter(erase_after__lte=now):
        started = Erasure.objects.filter(household=household, scope=Erasure.Scope.HOUSEHOLD, state__in=OPEN).first()
        started = started or erasure_start(scope=Erasure.Scope.HOUSEHOLD, origin=f"closed_{household.close_reason}",
                                           household=household, enqueue=False)
        if erasure_run(started.pk).state == Erasure.State.DONE:
            done["erased"] += 1
    for erasure in Erasure.objects.filter(scope=Erasure.Scope.HOUSEHOLD, state=Erasure.State.DONE,
                                          origin__startswith="closed_").exclude(receipt__has_key="emailed_at"):
        _receipt_mail(erasure)
        done["receipts"] += 1
    return done


def household_set_retention(*, actor, household: Household, months: int | None) -> Household:
    allowed = {value for value, _label in Household._meta.get_field("retention_months").choices}
    if months not in allowed:
        raise ApplicationError("Choose 3, 6, 12 or 18 months, or until you delete them.", field="months")
    with transaction.atomic():
        Household.objects.filter(pk=household.pk).update(retention_months=months)
        audit(actor=actor, action="household.retention", household=household, months=months)
    household.refresh_from_db()
    return household
