from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.queue import QueueRow


class MemoryFeedback(models.Model):
    """A parent's rating of one memory. Also sent to the Mem0 Platform when that is the backend."""

    class Rating(models.TextChoices):
        POSITIVE = "POSITIVE", _("👍 Right")
        NEGATIVE = "NEGATIVE", _("👎 Wrong")
        VERY_NEGATIVE = "VERY_NEGATIVE", _("🚫 Never use")

    memory_id = models.CharField(max_length=64, unique=True)
    namespace = models.CharField(max_length=64, db_index=True)
    child = models.ForeignKey("devices.ChildProfile", on_delete=models.CASCADE, related_name="feedback")
    rating = models.CharField(max_length=16, choices=Rating.choices)
    reason = models.CharField(max_length=300, blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class MemoryChange(models.Model):
    """Who changed a memory through the portal (Mem0's history has the text, not the person)."""

    memory_id = models.CharField(max_length=64, db_index=True)
    namespace = models.CharField(max_length=64, db_index=True)
    event = models.CharField(max_length=10)  # ADD / UPDATE / DELETE / CATEGORY
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_role = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class MemoryUsage(models.Model):
    """How often and when a toy was served a memory (memory-context)."""

    memory_id = models.CharField(max_length=64)
    namespace = models.CharField(max_length=64, db_index=True)
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="memory_usage")
    count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["memory_id", "device"], name="one_usage_row")]


class Conversation(QueueRow):
    """A finished toy session waiting for extraction (a ``portal.queue`` row). Messages are
    dropped once processed; a conversation dropped when accepted is never queued."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        DROPPED = "dropped", _("Dropped")
        FAILED = "failed", _("Failed — retrying")
        DEAD = "dead", _("Failed — support has been told")

    # The child whose words these are (the toy may be moved or deleted before extraction).
    child = models.ForeignKey("devices.ChildProfile", on_delete=models.CASCADE, related_name="conversations")
    # The child's memory epoch when accepted: an erase started since then drops it.
    epoch = models.PositiveIntegerField(default=0)
    device = models.ForeignKey("devices.Device", null=True, on_delete=models.SET_NULL, related_name="conversations")
    agent = models.ForeignKey("devices.Agent", null=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=128, blank=True)
    # SHA-256 of the messages first sent under the key: the same key with others is a 409.
    body_hash = models.CharField(max_length=64, blank=True)
    messages = models.JSONField(default=list)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    drop_reason = models.CharField(max_length=40, blank=True)
    memories_added = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                                    name="one_conversation_per_key")
        ]


class Job(QueueRow):
    """A long parent action (export, large delete) with progress the parent can come back to
    (a ``portal.queue`` row; an export's file expires: ``expired``)."""

    class Kind(models.TextChoices):
        EXPORT_JSON = "export_json", _("JSON export")
        EXPORT_CSV = "export_csv", _("CSV export")
        DELETE_MEMORIES = "delete_memories", _("Delete memories")
        EXPORT_HOUSEHOLD = "export_household", _("Everything the household holds (JSON)")

    class State(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed — retrying")
        EXPIRED = "expired", _("Expired")
        DEAD = "dead", _("Failed — support has been told")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    household = models.ForeignKey("devices.Household", on_delete=models.CASCADE, related_name="jobs")
    child = models.ForeignKey("devices.ChildProfile", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    params = models.JSONField(default=dict, blank=True)  # memory ids, never memory text
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def queue_title(self) -> str:
        return f"{self.get_kind_display()} (job #{self.pk})"

    @property
    def percent(self) -> int:
        return 100 if self.state == self.State.DONE else int(100 * self.done / self.total) if self.total else 0


class DeletionRequest(models.Model):
    class Scope(models.TextChoices):
        CHILD = "child", _("One child's data")
        HOUSEHOLD = "household", _("The whole household account")

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        VERIFIED = "verified", _("Verified")
        SCHEDULED = "scheduled", _("Scheduled")
        EXECUTING = "executing", _("Executing")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Portal")
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")

    household = models.ForeignKey("devices.Household", null=True, on_delete=models.SET_NULL,
                                  related_name="deletion_requests")
    household_name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    child = models.ForeignKey("devices.ChildProfile", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    child_name = models.CharField(max_length=60, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    identity_check = models.CharField(max_length=300, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED, db_index=True)
    # Namespaces to purge, captured when scheduled so a re-run after a crash finds them all.
    namespaces = models.JSONField(default=list, blank=True)
    erasure = models.OneToOneField("Erasure", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="deletion_request")
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    receipt = models.JSONField(default=dict, blank=True)  # counts and ids, never memory text
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]

    @property
    def is_overdue(self) -> bool:
        open_states = (self.State.COMPLETED,)
        return self.state not in open_states and self.due_at < timezone.now()


class Erasure(QueueRow):
    """One run of the one erase path: every deletion of a child's memories (a parent's
    "delete everything", a support request, a deleted child, household or account, the
    playground, retention) is an Erasure. It keeps ids and counts, never memory text, and
    its receipt lists each store that was verified empty, with a reference the parent can
    find again."""

    class Scope(models.TextChoices):
        MEMORIES = "memories", _("All memories of one child (the profile stays)")
        CHILD = "child", _("One child and all their data")
        HOUSEHOLD = "household", _("A whole household")
        ACCOUNT = "account", _("A parent's account")
        NAMESPACE = "namespace", _("A memory space without a child (playground, unlinked toy)")
        SELECTED = "selected", _("Chosen memories of one child (retention)")

    class State(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Erasing")
        DONE = "done", _("Erased and verified")
        FAILED = "failed", _("Failed — retrying")
        DEAD = "dead", _("Failed — support has been told")

    reference = models.CharField(max_length=20, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    origin = models.CharField(max_length=40)  # parent / support / admin / retention / playground / migration
    household = models.ForeignKey("devices.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="erasures")
    household_name = models.CharField(max_length=100, blank=True)
    child = models.ForeignKey("devices.ChildProfile", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="erasures")
    child_name = models.CharField(max_length=60, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")  # the account erased (scope account)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # Members who may read the receipt after their household is gone.
    member_ids = models.JSONField(default=list, blank=True)
    namespaces = models.JSONField(default=list, blank=True)
    memory_ids = models.JSONField(default=list, blank=True)  # scope "selected": exactly these
    progress = models.JSONField(default=dict, blank=True)  # ids and counts while running
    receipt = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.reference

    def queue_title(self) -> str:
        return f"Erasure {self.reference} ({self.get_scope_display().split(' (')[0].lower()})"
