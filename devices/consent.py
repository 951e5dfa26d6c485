"""Parental consent: recorded, verified, separate per purpose, withdrawable.

Before a toy may remember anything about a child a parent consents, under the current
notice (``NOTICE_VERSION``), to each purpose the portal uses:

* ``collection``: the toy remembers what the child tells it (always needed);
* ``llm``: conversations are sent to the LLM provider to extract memories (learning only);
* ``mem0_platform``: memories are stored with the Mem0 Platform (only when it is the backend).

A consent is given through a ``VerificationMethod`` (``METHODS``; today the signed form,
checked by support) and becomes one ``Consent`` row per purpose. A new notice version makes
older consents count for nothing until the parent consents again. The memories room gates
serving and learning on ``consent_missing`` (``memories.conversations._off_reason``)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from devices.models import ChildProfile, Consent, ConsentVerification
from devices.services import profile_sync_enqueue
from portal.access import STAFF_ROLES, role_of
from portal.audit import audit
from portal.errors import ApplicationError

# The plain-language notice (templates/devices/consent_notice.html) this version describes.
# Change it with the notice: every parent is asked again.
NOTICE_VERSION = "2026-05"
Purpose = Consent.Purpose
Withdrawal = Consent.Withdrawal
VState = ConsentVerification.State
_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
# Off reasons (the toy API's ``reason``): no consent to remember, to store on the Platform,
# or to send conversations to the LLM provider (then only learning is off).
NO_CONSENT, NO_PLATFORM_CONSENT, NO_LLM_CONSENT = "no_consent", "no_platform_consent", "no_llm_consent"


def platform_in_use() -> bool:
    return bool(settings.MEM0_API_KEY)


def llm_provider_name() -> str:
    return getattr(settings, "LLM_PROVIDER_NAME", "") or "the LLM provider (OpenAI-compatible)"


def offered_purposes() -> list[str]:
    """The purposes this portal asks consent for (the Platform only when it is used)."""
    purposes = [Purpose.COLLECTION, Purpose.LLM]
    if platform_in_use():
        purposes.append(Purpose.MEM0_PLATFORM)
    return purposes


def purpose_label(purpose: str) -> str:
    if purpose == Purpose.LLM:
        return _("Conversations are sent to %(provider)s to find what to remember") % {"provider": llm_provider_name()}
    return Purpose(purpose).label


# -- reads -----------------------------------------------------------------------------

def live_purposes(child: ChildProfile) -> set[str]:
    """Purposes with a live consent under the current notice."""
    return set(Consent.objects.filter(child=child, withdrawn_at__isnull=True, notice_version=NOTICE_VERSION)
               .values_list("purpose", flat=True))


def consent_missing(child: ChildProfile, *, learning: bool = False) -> str:
    """Why consent does not allow memory now ("" when it does): serving needs collection
    (and the Platform when used); learning also needs the LLM provider."""
    live = live_purposes(child)
    if Purpose.COLLECTION not in live:
        return NO_CONSENT
    if platform_in_use() and Purpose.MEM0_PLATFORM not in live:
        return NO_PLATFORM_CONSENT
    if learning and Purpose.LLM not in live:
        return NO_LLM_CONSENT
    return ""


@dataclass(frozen=True)
class PurposeState:
    purpose: str
    label: str
    state: str  # given / outdated / withdrawn / none
    record: Consent | None


def consent_states(child: ChildProfile) -> list[PurposeState]:
    """Per offered purpose: the latest record and what it means now. No memory contents:
    support sees exactly this."""
    latest: dict[str, Consent] = {}
    for record in Consent.objects.filter(child=child).select_related("verified_by").order_by("granted_at", "id"):
        latest[record.purpose] = record
    states = []
    for purpose in offered_purposes():
        record = latest.get(purpose)
        if record is None:
            state = "none"
        elif record.withdrawn_at is not None:
            state = "withdrawn"
        elif record.notice_version != NOTICE_VERSION:
            state = "outdated"
        else:
            state = "given"
        states.append(PurposeState(purpose, purpose_label(purpose), state, record))
    return states


def open_verification(child: ChildProfile) -> ConsentVerification | None:
    return child.consent_verifications.filter(
        state__in=(VState.AWAITING_FORM, VState.SUBMITTED)).order_by("-created_at").first()


def verifications_for(user):
    """Parents: their households' verifications; staff: all of them."""
    qs = ConsentVerification.objects.select_related("child", "household")
    if role_of(user) in STAFF_ROLES:
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(Q(household__memberships__user=user)).distinct()


def verification_for(user, reference: str) -> ConsentVerification:
    found = verifications_for(user).filter(reference=(reference or "").upper()).first()
    if found is None:
        raise Http404("No such consent form.")
    return found


# -- verification methods -----------------------------------------------------------------

class VerificationMethod(Protocol):
    """How a parent's identity as the child's parent is verified. A method starts on
    ``consent_request``; its evidence arrives through ``submit``; a decision (by staff,
    or a provider's callback for e.g. a card check) ends in ``consent_decide``."""

    key: str
    label: str

    def submit(self, *, verification: ConsentVerification, upload) -> None: ...


class SignedForm:
    """The parent prints the consent form (with its reference), signs it, and uploads a
    scan or photo; support compares name, reference and signature, then approves."""

    key = "signed_form"
    label = "Signed consent form (checked by our support team)"
    MAX_BYTES = 5 * 1024 * 1024
    TYPES = {b"%PDF": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}

    def submit(self, *, verification: ConsentVerification, upload) -> None:
        if upload is None or upload.size == 0:
            raise ApplicationError("Choose the scan or photo of the signed form.", field="form")
        if upload.size > self.MAX_BYTES:
            raise ApplicationError("The file is larger than 5 MB: a photo or a PDF scan is enough.", field="form")
        data = upload.read()
        content_type = next((t for magic, t in self.TYPES.items() if data.startswith(magic)), None)
        if content_type is None:
            raise ApplicationError("Upload a PDF, PNG or JPEG file.", field="form")
        updated = ConsentVerification.objects.filter(
            pk=verification.pk, state__in=(VState.AWAITING_FORM, VState.SUBMITTED)).update(
            state=VState.SUBMITTED, form_bytes=data, form_content_type=content_type,
            evidence_sha256=hashlib.sha256(data).hexdigest(), updated_at=timezone.now())
        if not updated:
            raise ApplicationError("This consent form was decided already.", code="decided")


METHODS: dict[str, VerificationMethod] = {SignedForm.key: SignedForm()}


# -- writes ------------------------------------------------------------------------------

def _reference() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"CF-{body[:4]}-{body[4:]}"


def _clean_purposes(purposes) -> list[str]:
    chosen = [p for p in offered_purposes() if p in set(purposes or [])]
    if Purpose.COLLECTION not in chosen:
        raise ApplicationError("Consent to remembering is needed before anything else.", field="purposes")
    unknown = set(purposes or []) - set(offered_purposes())
    if unknown:
        raise ApplicationError("Choose among the purposes listed.", field="purposes")
    return chosen


@transaction.atomic
def consent_request(*, actor, child: ChildProfile, signer_name: str, purposes,
                    method: str = SignedForm.key) -> ConsentVerification:
    """A parent consents (to be verified by ``method``); an open earlier request for the
    child is replaced."""
    signer_name = " ".join((signer_name or "").split())
    if len(signer_name) < 2:
        raise ApplicationError("Write your full name as you will sign it.", field="signer_name")
    if method not in METHODS:
        raise ApplicationError("Choose how to verify.", field="method")
    chosen = _clean_purposes(purposes)
    child.consent_verifications.filter(state__in=(VState.AWAITING_FORM, VState.SUBMITTED)).delete()
    verification = ConsentVerification.objects.create(
        reference=_reference(), household=child.household, child=child, requested_by=actor,
        signer_name=signer_name[:120], purposes=chosen, notice_version=NOTICE_VERSION, method=method)
    audit(actor=actor, action="consent.request", child=child, reference=verification.reference,
          purposes=chosen, notice_version=NOTICE_VERSION, method=method)
    return verification


def consent_submit(*, actor, verification: ConsentVerification, upload) -> ConsentVerification:
    METHODS[verification.method].submit(verification=verification, upload=upload)
    audit(actor=actor, action="consent.submit", child=verification.child, reference=verification.reference)
    verification.refresh_from_db()
    return verification


@transaction.atomic
def consent_decide(*, actor, verification: ConsentVerification, approve: bool, note: str = "") -> list[Consent]:
    """Staff check the evidence. Approved: the consents are recorded. Either way the
    uploaded form is deleted (its SHA-256 stays)."""
    if role_of(actor) not in STAFF_ROLES:
        raise ApplicationError("Only support checks consent forms.", code="wrong_role")
    if not approve and not (note or "").strip():
        raise ApplicationError("Say why, so the parent can fix it.", field="note")
    now = timezone.now()
    state = VState.APPROVED if approve else VState.REJECTED
    if not ConsentVerification.objects.filter(pk=verification.pk, state=VState.SUBMITTED).update(
            state=state, decided_by=actor, decided_at=now, decision_note=(note or "")[:300], form_bytes=None,
            updated_at=now):
        raise ApplicationError("This form is not waiting for a check.", code="not_submitted")
    audit(actor=actor, action="consent.approve" if approve else "consent.reject", child=verification.child,
          reference=verification.reference)
    if not approve:
        return []
    if verification.notice_version != NOTICE_VERSION:
        raise ApplicationError("The notice changed since this form was signed: the parent must consent again.",
                               code="outdated")
    return consent_record(child=verification.child, purposes=verification.purposes,
                          signer_name=verification.signer_name, granted_by=verification.requested_by,
                          method=verification.method, verified_by=actor, verification=verification)


@transaction.atomic
def consent_record(*, child: ChildProfile, purposes, signer_name: str, granted_by, method: str,
                   verified_by, verification: ConsentVerification | None = None) -> list[Consent]:
    """Record verified consents (one per purpose) under the current notice; a live one for
    the same purpose (e.g. under an older notice) is superseded."""
    chosen = _clean_purposes(purposes)
    now = timezone.now()
    Consent.objects.filter(child=child, purpose__in=chosen, withdrawn_at__isnull=True).update(
        withdrawn_at=now, withdrawal=Withdrawal.SUPERSEDED)
    records = [Consent.objects.create(
        household=child.household, child=child, purpose=p, notice_version=NOTICE_VERSION, method=method,
        verification=verification, granted_by=granted_by, signer_name=signer_name, verified_by=verified_by,
        granted_at=now) for p in chosen]
    audit(actor=verified_by, action="consent.given", child=child, purposes=chosen,
          notice_version=NOTICE_VERSION, method=method)
    if Purpose.MEM0_PLATFORM in chosen:
        profile_sync_enqueue(child)  # the profile held back until now
    return records


@transaction.atomic
def consent_withdraw(*, actor, child: ChildProfile, purposes, choice: str) -> list[str]:
    """Withdraw consents at once (memory stops on the next call). Withdrawing consent to
    remember (or to the Platform, when used) withdraws every purpose: the parent chose to
    keep the memories paused or to erase them (the memories room runs the erase). The
    LLM provider alone: learning stops, what is remembered stays."""
    purposes = set(purposes or [])
    if not purposes or purposes - set(Purpose.values):
        raise ApplicationError("Choose what to withdraw.", field="purposes")
    stops_memory = bool(purposes & {Purpose.COLLECTION, Purpose.MEM0_PLATFORM})
    if stops_memory:
        purposes = set(Purpose.values)
        if choice not in (Withdrawal.KEEP_PAUSED, Withdrawal.ERASE):
            raise ApplicationError("Choose whether to keep the memories (paused) or erase them.", field="choice")
    else:
        choice = ""
    withdrawn = sorted(Consent.objects.filter(child=child, purpose__in=purposes, withdrawn_at__isnull=True)
                       .values_list("purpose", flat=True))
    if not withdrawn:
        raise ApplicationError("There is no consent to withdraw.", code="nothing_to_withdraw")
    Consent.objects.filter(child=child, purpose__in=purposes, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now(), withdrawn_by=actor, withdrawal=choice)
    child.consent_verifications.filter(state__in=(VState.AWAITING_FORM, VState.SUBMITTED)).delete()
    if choice == Withdrawal.KEEP_PAUSED and not child.memory_paused:
        from devices.services import child_update

        child_update(actor=actor, child=child, memory_paused=True)
    audit(actor=actor, action="consent.withdraw", child=child, purposes=withdrawn, choice=choice)
    return withdrawn
