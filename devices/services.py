"""Writes to households, children, devices and agents. Every change a toy must know about
queues a push to Mem0 in the same transaction (memories.outbox)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from devices.models import (
    Agent,
    AgentPromptVersion,
    ChildProfile,
    Device,
    Household,
    Membership,
    normalize_mac,
)
from memories import outbox
from portal.audit import audit
from portal.errors import ApplicationError

CHILD_FIELDS = ("name", "birth_date", "gender", "interests", "toy_note", "memory_paused")


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
    outbox.profile_push_enqueue(child)
    audit(actor=actor, action="child.create", child=child)
    return child


@transaction.atomic
def child_update(*, actor, child: ChildProfile, **fields) -> ChildProfile:
    fields = _clean_child_fields(fields)
    for name, value in fields.items():
        setattr(child, name, value)
    child.save()
    outbox.profile_push_enqueue(child)
    audit(actor=actor, action="child.update", child=child, fields=sorted(fields))
    return child


def device_learned_count(device: Device) -> int:
    from memories import gateway

    return gateway.get().count([device.namespace], exclude_kinds=["child_profile"])


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
        outbox.profile_push_enqueue(child)
    audit(actor=actor, action="device.register", household=household, child=child, mac=mac)
    return device


@transaction.atomic
def device_assign(*, actor, device: Device, child: ChildProfile | None, erase_confirmed: bool = False) -> Device:
    """Link a device to a child, or move it to another one.

    What the device learned is about the child who used it: a move erases it (after the
    parent confirmed), and until the purge has run nothing of it is shown or served."""
    if child is not None and child.household_id != device.household_id:
        raise ApplicationError("Choose a child of this household.", field="child")
    if child is not None and device.child_id == child.pk:
        return device
    previous = device.child
    if previous is not None and not erase_confirmed:
        raise ApplicationError(
            f"Moving this device erases what it learned about {previous.name}. Confirm to continue.",
            field="erase_confirmed", code="confirm_erase",
        )
    device.child = child
    device.memory_reset_pending = previous is not None
    device.save(update_fields=["child", "memory_reset_pending"])
    if previous is not None:
        outbox.device_reset_enqueue(device)
    elif child is not None:
        outbox.profile_push_enqueue(child)
    audit(actor=actor, action="device.assign", household=device.household, child=child,
          device_id=device.pk, previous_child_id=getattr(previous, "pk", None))
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
