"""Mem0's tables in the portal database, and no planner statistics of children's words.

The local backend's tables (Mem0's vectors and entities, its history and raw messages, which
used to be a SQLite file on each host) are created here rather than when the gateway starts,
so the portal's role needs no DDL rights at run time. Only when they live in this database:
not with ``MEM0_DATABASE_URL`` (the gateway creates what is missing there) nor with the
Platform (``MEM0_API_KEY``). ``IF NOT EXISTS`` everywhere: existing installs keep theirs.

Statistics: ANALYZE copies sample values into ``pg_statistic``, where they outlive deleted
rows. Columns holding children's words get statistics target 0 and lose what was collected.
"""

from django.conf import settings
from django.db import migrations

# Our own tables' columns with children's words (Mem0's: memories.gateway.schema).
WORD_COLUMNS = {"memories_conversation": ("messages",), "memories_memoryfeedback": ("reason",)}


def forward(apps, schema_editor):
    from memories.gateway import schema

    with schema_editor.connection.cursor() as cursor:
        if not (settings.MEM0_DATABASE_URL or settings.MEM0_API_KEY):
            schema.apply(cursor, settings.MEM0_COLLECTION, settings.MEM0_EMBEDDING_DIMS)
        for table, columns in WORD_COLUMNS.items():
            schema.no_statistics(cursor, table, columns)


class Migration(migrations.Migration):
    dependencies = [("memories", "0002_child_namespaces")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
