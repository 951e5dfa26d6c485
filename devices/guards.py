"""Nothing deletes a child, a household or a parent's account without the erase path.

Django's admin, a shell or a cascade would otherwise drop the rows and leave the child's
memories in Mem0 (reachable again through a re-registered toy). Every such delete is
refused unless it runs inside ``erase_allowed()``, which only the erase path (memories)
enters after it has erased and verified the memories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete

from devices.models import ChildProfile, Household, Membership

_allowed: ContextVar[bool] = ContextVar("erase_allowed", default=False)


class ErasureRequired(Exception):
    """A child, household or parent account was deleted outside the erase path."""


@contextmanager
def erase_allowed() -> Iterator[None]:
    token = _allowed.set(True)
    try:
        yield
    finally:
        _allowed.reset(token)


def _refuse(sender, instance, **kwargs) -> None:
    if _allowed.get():
        return
    if sender is get_user_model() and not Membership.objects.filter(user=instance).exists():
        return  # staff and accounts without a household hold no child's data
    raise ErasureRequired(
        f"{sender._meta.verbose_name.capitalize()} {instance.pk} holds a child's data: delete it through "
        "the erase path (the portal's delete actions), which erases the memories first."
    )


def connect() -> None:
    for model in (ChildProfile, Household, get_user_model()):
        pre_delete.connect(_refuse, sender=model, dispatch_uid=f"erase-guard-{model._meta.label_lower}")
