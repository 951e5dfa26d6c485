"""The database cache table (settings.CACHES): login rate limiting keeps its counters there,
shared by every web process. ``createcachetable`` does nothing if the table exists."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    from django.conf import settings

    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("DatabaseCache"):
            schema_editor.execute(f'DROP TABLE IF EXISTS "{cache["LOCATION"]}"')


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
