import hashlib
import re
import uuid
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.queue import QueueRow

_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")


def normalize_mac(value: str) -> str:
    """``AA-BB-CC-DD-EE-FF``, ``aa:bb:…`` and ``aabbccddeeff`` → ``aa:bb:cc:dd:ee:ff``."""
    raw = (value or "").strip().lower()
    if re.fullmatch(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}", raw):
        raw = raw.replace(":", "").replace("-", "")
    if not _MAC_HEX.match(raw):
        raise ValidationError(
            "Enter a MAC address like aa:bb:cc:dd:ee:ff (12 hexadecimal digits, "
            "optionally separated by ':' or '-').",
            code="invalid_mac",
        )
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


AGE_GROUPS = [
    (0, 2, "Toddler"),
    (3, 5, "Preschool"),
    (6, 8, "Early Elementary"),
    (9, 11, "Late Elementary"),
    (12, 13, "Preteen"),
    (14, 200, "Teen"),
]


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def age_group_for(age: int) -> str:
    for low, high, label in AGE_GROUPS:
        if low <= age <= high:
            return label
    return AGE_GROUPS[0][2]


class Household(models.Model):
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="households")
    created_at = models.DateTimeField(auto_now_add=True)
    # Learned memories older than this many months are erased daily (None: until a parent deletes).
    retention_months = models.PositiveSmallIntegerField(
        "keep learned memories for", null=True, blank=True, default=12,
        choices=[(3, _("3 months")), (6, _("6 months")), (12, _("12 months")), (18, _("18 months")),
                 (None, _("Until I delete them"))])
    # Closed by a parent, or found inactive: memory stops, everything is erased after erase_after.
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=10, blank=True)  # "parent" / "inactive"
    erase_after = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        PARENT = "parent", _("Parent")

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.PARENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["household", "user"], name="one_membership_per_user")]

    def __str__(self):
        return f"{self.user} in {self.household} ({self.role})"


class Invitation(models.Model):
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class ChildProfile(models.Model):
    GENDER_SUGGESTIONS = ["girl", "boy", "non-binary", "prefer not to say"]

    # Deleting a household never takes children with it silently: the erase path removes
    # them (and their memories) first.
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="children")
    # The opaque key of the child's Mem0 namespace: memories belong to the child, not a toy.
    memory_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Bumped when an erase of the child's memories starts: a conversation accepted under an
    # older epoch can never add what the erase removed.
    memory_epoch = models.PositiveIntegerField(default=0, editable=False)
    name = models.CharField(max_length=60)
    birth_date = models.DateField()
    gender = models.CharField(max_length=40, blank=True)
    interests = models.JSONField(default=list, blank=True)
    toy_note = models.CharField("note for the toy", max_length=500, blank=True)
    memory_paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def namespace(self) -> str:
        """The Mem0 ``user_id`` of the child's memories (never a MAC)."""
        return f"child_{self.memory_key.hex}"

    @property
    def age(self) -> int:
        return age_on(self.birth_date, timezone.localdate())

    @property
    def age_group(self) -> str:
        return age_group_for(self.age)


class Agent(models.Model):
    name = models.CharField(max_length=80, unique=True)
    system_prompt = models.TextField(blank=True)
    memory_enabled = models.BooleanField(default=True)
    memory_prompt = models.TextField(blank=True)
    # [{"key": "interests", "label": "Interests", "description": "..."}]; empty = defaults.
    categories = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AgentPromptVersion(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="prompt_versions")
    number = models.PositiveIntegerField()
    memory_prompt = models.TextField(blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["agent", "number"], name="one_prompt_version_number")]


class Device(models.Model):
    mac = models.CharField("MAC address", max_length=17, unique=True)
    name = models.CharField(max_length=80, blank=True)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="devices")
    child = models.ForeignKey(ChildProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "mac"]

    def __str__(self):
        return self.name or self.mac

    def clean(self):
        self.mac = normalize_mac(self.mac)

    @property
    def namespace(self) -> str | None:
        """The Mem0 ``user_id`` this toy reads and writes: its child's, or none when unlinked."""
        return self.child.namespace if self.child_id else None


class DeviceToken(models.Model):
    """A toy server's credential: one device, or a whole fleet (every device)."""

    name = models.CharField(max_length=80)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens")
    is_fleet = models.BooleanField(default=False)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    def covers(self, device: Device) -> bool:
        return self.revoked_at is None and (self.is_fleet or self.device_id == device.pk)


class ProfileSync(QueueRow):
    """A queue row (``portal.queue``): push the child's profile into Mem0. Written in the
    same transaction as the change; the memories room's worker claims it (so nothing is
    lost while Mem0 or a worker is down)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Synced")
        FAILED = "failed", _("Failed — retrying")
        DEAD = "dead", _("Failed — support has been told")

    child = models.ForeignKey(ChildProfile, on_delete=models.CASCADE, related_name="profile_syncs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["child", "-created_at"]), models.Index(fields=["state", "updated_at"])]


# -- parental consent ----------------------------------------------------------------------

class ConsentVerification(models.Model):
    """A parent's consent for a child, waiting for its verification by one method (today:
    a signed form, checked by support). Approved, it becomes one ``Consent`` per purpose.
    The uploaded form is deleted once decided; its SHA-256 stays as the evidence."""

    class State(models.TextChoices):
        AWAITING_FORM = "awaiting_form", _("Waiting for the signed form")
        SUBMITTED = "submitted", _("Form received, being checked")
        APPROVED = "approved", _("Verified")
        REJECTED = "rejected", _("Not accepted")

    reference = models.CharField(max_length=20, unique=True)
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="consent_verifications")
    child = models.ForeignKey(ChildProfile, on_delete=models.CASCADE, related_name="consent_verifications")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    signer_name = models.CharField(max_length=120)
    purposes = models.JSONField(default=list)
    notice_version = models.CharField(max_length=20)
    method = models.CharField(max_length=20)
    state = models.CharField(max_length=15, choices=State.choices, default=State.AWAITING_FORM, db_index=True)
    form_bytes = models.BinaryField(null=True, blank=True, editable=False)
    form_content_type = models.CharField(max_length=40, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class Consent(models.Model):
    """One purpose a parent consented to for one child: who, when, which notice version,
    how it was verified; withdrawn (when, by whom, and what the parent chose for the
    memories). Only a live consent under the current notice counts."""

    class Purpose(models.TextChoices):
        COLLECTION = "collection", _("The toy remembers what the child tells it")
        LLM = "llm", _("Conversations are sent to the LLM provider to find what to remember")
        MEM0_PLATFORM = "mem0_platform", "Memories are stored on the Mem0 Platform"

    class Withdrawal(models.TextChoices):
        KEEP_PAUSED = "keep_paused", _("Memories kept, memory paused")
        ERASE = "erase", _("Memories erased")
        SUPERSEDED = "superseded", _("Replaced by a newer consent")

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="consents")
    child = models.ForeignKey(ChildProfile, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    notice_version = models.CharField(max_length=20)
    method = models.CharField(max_length=20)
    verification = models.ForeignKey(ConsentVerification, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="consents")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    signer_name = models.CharField(max_length=120)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    withdrawal = models.CharField(max_length=12, choices=Withdrawal.choices, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["child", "purpose"])]
        constraints = [models.UniqueConstraint(fields=["child", "purpose"], condition=models.Q(withdrawn_at=None),
                                               name="one_live_consent_per_purpose")]


class PairingCode(models.Model):
    """A 6-digit code a toy server asked for on behalf of an unknown toy (by MAC): the toy
    says or shows it, a parent types it to add the toy to a child. Only an HMAC of the code
    is stored; it expires in minutes and works once."""

    mac = models.CharField(max_length=17, db_index=True)
    code_digest = models.CharField(max_length=64, db_index=True)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token = models.ForeignKey(DeviceToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
