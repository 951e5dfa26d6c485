"""Writes to households, children, devices and agents. Every change a toy must know about
writes a ``ProfileSync`` queue row in the same transaction; the memories room's worker
pushes it into Mem0."""

import hashlib
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from devices.models import (
    Agent,
    AgentPromptVersion,
    ChildProfile,
    Device,
    Household,
    Invitation,
    Membership,
    ProfileSync,
    normalize_mac,
)
from portal.access import Role, role_of
from portal.audit import audit
from portal.errors import ApplicationError
from portal.queue import enqueue_on_commit

CHILD_FIELDS = ("name", "birth_date", "gender", "interests", "toy_note", "memory_paused")


def profile_sync_enqueue(child: ChildProfile) -> ProfileSync:
    """Queue a push of the child's profile into Mem0 (after the caller's transaction commits)."""
    row = ProfileSync.objects.create(child=child)
    enqueue_on_commit("memories.tasks.profile_sync", row.pk)
    return row


def household_create(*, name: str, owner) -> Household:
    household = Household.objects.create(name=name)
    Membership.objects.create(household=household, user=owner, role=Membership.Role.OWNER)
    return household


def _clean_child_fields(fields: dict) -> dict:
    unknown = set(fields) - set(CHILD_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown field: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ApplicationError("Enter the child's name.", field="name")
    if "birth_date" in fields:
        born = fields["birth_date"]
        if not isinstance(born, date) or born > date.today() or born.year < date.today().year - 25:
            raise ApplicationError("Enter a birth date in the past 25 years.", field="birth_date")
    if "interests" in fields:
        interests = fields["interests"]
        if isinstance(interests, str):
            interests = interests.split(",")
        fields["interests"] = [i.strip() for i in interests if i and i.strip()][:30]
    return fields


@transaction.atomic
def child_create(*, actor, household: Household, **fields) -> ChildProfile:
    fields = _clean_child_fields(fields)
    for required in ("name", "birth_date"):
        if required not in fields:
            raise ApplicationError(f"{required.replace('_', ' ').capitalize()} is required.", field=required)
    child = ChildProfile.objects.create(household=household, **fields)
    profile_sync_enqueue(child)
    audit(actor=actor, action="child.create", child=child)
    return child


@transaction.atomic
def child_update(*, actor, child: ChildProfile, **fields) -> ChildProfile:
    fields = _clean_child_fields(fields)
    for name, value in fields.items():
        setattr(child, name, value)
    child.save()
    profile_sync_enqueue(child)
    audit(actor=actor, action="child.update", child=child, fields=sorted(fields))
    return child


@transaction.atomic
def device_register(*, actor, household: Household, mac: str, name: str = "",
                    child: ChildProfile | None = None, agent: Agent | None = None) -> Device:
    try:
        mac = normalize_mac(mac)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0], field="mac", code="invalid_mac") from None
    if Device.objects.filter(mac=mac).exists():
        raise ApplicationError("This device is already registered.", field="mac", code="duplicate_mac")
    if child is not None and child.household_id != household.pk:
        raise ApplicationError("Choose a child of this household.", field="child")
    device = Device.objects.create(household=household, mac=mac, name=name.strip(), child=child, agent=agent)
    if child is not None:
        profile_sync_enqueue(child)
    audit(actor=actor, action="device.register", household=household, child=child, mac=mac)
    return device


@transaction.atomic
def device_assign(*, actor, device: Device, child: ChildProfile | None) -> Device:
    """Link a toy to a child, move it to another child, or unlink it.

    The memories belong to the child, not the toy: after a move the toy reads and writes
    the new child's memories, and nothing of the previous child's follows it."""
    if child is not None and child.household_id != device.household_id:
        raise ApplicationError("Choose a child of this household.", field="child")
    if device.child_id == (child.pk if child else None):
        return device
    previous_id = device.child_id
    device.child = child
    device.save(update_fields=["child"])
    if child is not None:
        profile_sync_enqueue(child)
    audit(actor=actor, action="device.assign", household=device.household, child=child,
          device_id=device.pk, previous_child_id=previous_id)
    return device


@transaction.atomic
def agent_save(*, actor, agent: Agent | None = None, note: str = "", **fields) -> Agent:
    """Create or change an agent; every change of its memory prompt is a new version."""
    agent = agent or Agent()
    old_prompt = agent.memory_prompt if agent.pk else None
    for name, value in fields.items():
        setattr(agent, name, value)
    if not (agent.name or "").strip():
        raise ApplicationError("Give the agent a name.", field="name")
    agent.updated_by = actor
    agent.save()
    if old_prompt is None or old_prompt != agent.memory_prompt:
        last = agent.prompt_versions.order_by("-number").values_list("number", flat=True).first() or 0
        AgentPromptVersion.objects.create(agent=agent, number=last + 1, memory_prompt=agent.memory_prompt,
                                          note=note[:200], created_by=actor)
    audit(actor=actor, action="agent.save", agent_id=agent.pk)
    return agent


# -- household members: invitations (email link, hashed token, expiry) and removal --------

INVITATION_TTL_DAYS = 7


def _invitation_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def invitation_create(*, actor, household: Household, email: str, accept_url) -> Invitation:
    """Invite a parent by email. ``accept_url(token)`` builds the absolute link; only the
    token's hash is stored, and the email goes out once the invitation is committed."""

    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid email address.", field="email") from None
    if household.memberships.filter(user__email__iexact=email).exists() or household.memberships.filter(
            user__username__iexact=email).exists():
        raise ApplicationError("This person is already a member of the household.", field="email")
    raw = secrets.token_urlsafe(32)
    days = getattr(settings, "INVITATION_TTL_DAYS", INVITATION_TTL_DAYS)
    with transaction.atomic():
        # A new invitation replaces any earlier one still open for the same address.
        household.invitations.filter(email=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(household=household, email=email, token_hash=_invitation_hash(raw),
                                               invited_by=actor, expires_at=timezone.now() + timedelta(days=days))
        audit(actor=actor, action="household.invite", household=household, invitation_id=invitation.pk)
        inviter = actor.get_full_name() or actor.email or actor.username
        # In the inviting parent's language (the one active for their request).
        body = gettext(
            "%(inviter)s invites you to see and control what the toy remembers about the children of "
            "\"%(household)s\" in the Memory portal.\n\nAccept the invitation here (valid for %(days)s days):\n"
            "%(url)s\n\nIf you did not expect this, ignore this email.\n"
        ) % {"inviter": inviter, "household": household.name, "days": days, "url": accept_url(raw)}
        subject = gettext("You are invited to the Memory portal")
        transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return invitation


def invitation_lookup(raw: str) -> Invitation | None:
    """The invitation behind a token from an email link (usable or not), or None."""

    if not raw or len(raw) > 200:
        return None
    return Invitation.objects.select_related("household").filter(token_hash=_invitation_hash(raw)).first()


def invitation_accept(*, invitation, user) -> Membership:
    """Join the household, once, before expiry, as the person it was sent to."""

    if role_of(user) != Role.PARENT:
        raise ApplicationError("Staff accounts cannot join a household.", code="wrong_role")
    if user.email.lower() != invitation.email and user.username.lower() != invitation.email:
        raise ApplicationError(f"This invitation was sent to {invitation.email}. Log in with that account.",
                               code="wrong_user")
    with transaction.atomic():
        claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True,
                                            expires_at__gt=timezone.now()).update(accepted_at=timezone.now())
        if not claimed:
            raise ApplicationError("This invitation was used already or has expired. Ask for a new one.",
                                   code="invitation_unusable")
        membership, _ = Membership.objects.get_or_create(household=invitation.household, user=user,
                                                         defaults={"role": Membership.Role.PARENT})
        audit(actor=user, action="household.join", household=invitation.household, invitation_id=invitation.pk)
    return membership


def invitation_accept_new_user(*, invitation: Invitation, password: str) -> AbstractBaseUser:
    """Create the account the invitation was sent to (strong password), then join."""

    User = get_user_model()
    if not invitation.is_usable:
        raise ApplicationError("This invitation was used already or has expired. Ask for a new one.",
                               code="invitation_unusable")
    if User.objects.filter(username__iexact=invitation.email).exists():
        raise ApplicationError("An account with this email exists: log in to accept.", code="account_exists")
    candidate = User(username=invitation.email, email=invitation.email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), field="password1") from None
    with transaction.atomic():
        user = User.objects.create_user(username=invitation.email, email=invitation.email, password=password)
        invitation_accept(invitation=invitation, user=user)
    return user


def invitation_revoke(*, actor, invitation) -> None:
    if invitation.accepted_at is not None:
        raise ApplicationError("This invitation was accepted already.")
    with transaction.atomic():
        invitation.delete()
        audit(actor=actor, action="household.invite_revoke", household=invitation.household)


def membership_remove(*, actor, membership: Membership) -> None:
    """Another parent leaves the household (the owner stays; nobody removes themselves)."""
    if membership.user_id == actor.pk:
        raise ApplicationError("You cannot remove yourself. Ask the other parent, or ask support.")
    if membership.role == Membership.Role.OWNER:
        raise ApplicationError("The household's owner cannot be removed.")
    with transaction.atomic():
        membership.delete()
        audit(actor=actor, action="household.member_remove", household=membership.household,
              user_id=membership.user_id)


# -- agents: rollback of the memory prompt, which devices run an agent ---------------------

@transaction.atomic
def agent_rollback(*, actor, agent: Agent, number: int) -> Agent:
    """Make an earlier memory prompt current again, as a new version (history stays whole)."""
    version = agent.prompt_versions.filter(number=number).first()
    if version is None:
        raise ApplicationError("There is no such version of this memory prompt.", field="number",
                               code="unknown_version")
    if version.memory_prompt == agent.memory_prompt:
        raise ApplicationError(f"Version {number} is the current memory prompt already.", code="unchanged")
    agent = agent_save(actor=actor, agent=agent, note=f"Rollback to version {number}",
                       memory_prompt=version.memory_prompt)
    audit(actor=actor, action="agent.rollback", agent_id=agent.pk, number=number)
    return agent


@transaction.atomic
def agent_set_devices(*, actor, agent: Agent, devices) -> int:
    """Exactly ``devices`` run ``agent``: the others that ran it now run no agent."""
    wanted = {d.pk for d in devices}
    dropped = Device.objects.filter(agent=agent).exclude(pk__in=wanted).update(agent=None)
    added = Device.objects.filter(pk__in=wanted).exclude(agent=agent).update(agent=agent)
    if dropped or added:
        audit(actor=actor, action="agent.devices", agent_id=agent.pk, added=added, removed=dropped)
    return added + dropped
