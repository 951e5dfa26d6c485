"""Erasures and ratings bump the toy routes' lookup version too (devices 0007: the same
triggers, the same ``devices_lookup_version_bump()``), so what a process keeps from them is
current at every request: whether an erasure of the child is under way (an erasure queued,
finishing or failing changes what a toy is served, also when nothing else about the child
changes) and which of the child's memories are 🚫 in our records (served to no toy, also
while Mem0's copy waits for its mirror). Hand-written. Updates of columns nothing looked up
reads (an erasure's progress, receipt and retry bookkeeping; a rating's reason) change
nothing."""

import importlib

from django.db import migrations

lookup_version = importlib.import_module("devices.migrations.0007_lookup_version")

TABLES = {  # table: columns whose change alone is not a change of what is looked up
    "memories_erasure": ["progress", "receipt", "updated_at", "sent_at", "next_attempt_at", "last_error",
                         "attempts"],
    "memories_memoryfeedback": ["reason", "rated_by_id", "updated_at"],
}

FORWARD = "".join(lookup_version.triggers(t, ignored) for t, ignored in TABLES.items())
BACKWARD = "".join(
    f"DROP TRIGGER IF EXISTS lookup_version_write ON {t}; DROP TRIGGER IF EXISTS lookup_version_update ON {t}; "
    f"DROP TRIGGER IF EXISTS lookup_version_truncate ON {t};" for t in TABLES
)


class Migration(migrations.Migration):
    dependencies = [("memories", "0008_mem0_namespaces"), ("devices", "0007_lookup_version")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
