from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """Who did what to which child's data, and how much of it. Never memory text."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_role = models.CharField(max_length=20)
    household = models.ForeignKey("devices.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="audit_events")
    # Kept as plain ids so the trail survives the deletion of what it describes.
    child_id = models.BigIntegerField(null=True, blank=True)
    child_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=60)
    count = models.PositiveIntegerField(default=0)
    detail = models.JSONField(default=dict, blank=True)
    # When it happened (a toy call's entry is written a moment later, in a batch).
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["household", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_role} {self.action}"

    @property
    def action_label(self) -> str:
        """What happened, in the parent's words (``portal.audit.ACTION_LABELS``)."""
        from portal.audit import action_label

        return action_label(self.action)

    @property
    def actor_label(self) -> str:
        from portal.audit import actor_label

        return actor_label(self)


class Preferences(models.Model):
    """A person's own settings: the time zone every time is shown in (detected in the browser
    at the first login, changeable on the account page), the language (blank: the browser's)
    and the weekly digest email (parents; off until they turn it on)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    time_zone = models.CharField(max_length=64, blank=True)  # an IANA name; blank: not known yet
    language = models.CharField(max_length=10, blank=True)
    digest_weekly = models.BooleanField(default=False)
    digest_sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"
