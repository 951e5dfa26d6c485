"""Per namespace of Mem0's table: how many memories, and a version every committed change
moves (statement triggers; ``memories.gateway.schema.namespace_statements``). The gateway's
exact count reads it, and each web process's vector copies check it before ranking
(``memories.gateway.vectors``). Filled once from the rows already there; the triggers'
creation locks the table against writes until this commits. Only when Mem0's tables live in
this database (as 0003)."""

from django.conf import settings
from django.db import migrations


def forward(apps, schema_editor):
    from memories.gateway import schema

    if settings.MEM0_DATABASE_URL or settings.MEM0_API_KEY:
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in schema.namespace_statements(settings.MEM0_COLLECTION):
            cursor.execute(statement)
        schema.count_namespaces(cursor, settings.MEM0_COLLECTION)


class Migration(migrations.Migration):
    dependencies = [("memories", "0007_job_household_export")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
