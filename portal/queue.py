"""Queue rows: work written in the same transaction as the change that needs it, handed to
a Celery worker once that transaction commits. A room may hand work to a task of a higher
room by name (``enqueue_on_commit("memories.tasks.profile_sync", row.pk)``), so apps keep
importing one way."""

from __future__ import annotations

from django.db import transaction


def enqueue_on_commit(task_name: str, *args) -> None:
    """Send ``task_name(*args)`` to the workers after the current transaction commits."""
    from portal.celery import app

    transaction.on_commit(lambda: app.send_task(task_name, args=list(args)))
