from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    name = "memories"
    verbose_name = "Memories"

    def ready(self):
        from celery import signals

        from portal import health

        signals.worker_process_init.connect(warm_up, weak=False, dispatch_uid="memories-warm-up-init")
        signals.worker_ready.connect(warm_up, weak=False, dispatch_uid="memories-warm-up-ready")
        from portal.signals import web_process_started

        web_process_started.connect(warm_up, weak=False, dispatch_uid="memories-warm-up-web")
        health.register("mem0", _mem0_status)
        from memories.models import Conversation, Erasure, Job
        from portal import queue

        queue.register(Conversation, "memories.tasks.conversation_extract", related=("child__household",))
        queue.register(Job, "memories.tasks.job_run", related=("household", "child"))
        queue.register(Erasure, "memories.tasks.erasure_run", related=("household", "child"))


def warm_up(**kwargs):
    """Workers (Celery's, gunicorn's: gunicorn.conf.py) and other web processes (portal.wsgi)
    load the query encoder, Mem0 and its tables before the first task or request needs them."""
    from memories import gateway

    try:
        gateway.get().ping()
    except Exception:  # Mem0 down at start: tasks retry until it is back
        pass


def _mem0_status() -> dict:
    """For the admins' settings page: which Mem0, and whether it answers (class names only)."""
    from django.conf import settings

    from memories import gateway

    backend = "platform" if settings.MEM0_API_KEY else "local"
    status = {"backend": backend, "reachable": False, "error": ""}
    try:
        gateway.get().ping()
        status["reachable"] = True
    except Exception as exc:  # the class only: never echo secrets or data
        status["error"] = type(exc).__name__
    status["where"] = (settings.MEM0_HOST or "api.mem0.ai") if backend == "platform" else (
        f"pgvector table “{settings.MEM0_COLLECTION}” in "
        f"{'a separate database' if settings.MEM0_DATABASE_URL else 'the portal database'}")
    return status
