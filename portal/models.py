from django.conf import settings
from django.db import models


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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["household", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_role} {self.action}"
