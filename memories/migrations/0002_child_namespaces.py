"""Memories move from toy namespaces (a MAC) to child namespaces (``child_<key>``).

What a toy linked to a child learned becomes the child's (each memory records the toy it
came from); what toys without a child (or awaiting a reset) hold, and anything left under a
MAC whose toy is gone, is erased: a reused MAC can never bring it back. Profile pushes move
to ``devices.ProfileSync``; the erase path gets its ``Erasure`` record."""

import re

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def _namespace(child) -> str:
    return f"child_{child.memory_key.hex}"


def _mem0_tables(cursor) -> list[str]:
    """Mem0's tables when they live in this database (the local backend's default)."""
    if settings.MEM0_DATABASE_URL or settings.MEM0_API_KEY:
        return []
    found = []
    for table in (settings.MEM0_COLLECTION, f"{settings.MEM0_COLLECTION}_entities"):
        cursor.execute("SELECT to_regclass(%s)", [f'"{table}"'])
        if cursor.fetchone()[0]:
            found.append(table)
    return found


def forwards(apps, schema_editor):
    Device = apps.get_model("devices", "Device")
    ProfileSync = apps.get_model("devices", "ProfileSync")
    Outbox = apps.get_model("memories", "Outbox")
    MemoryChange = apps.get_model("memories", "MemoryChange")
    MemoryFeedback = apps.get_model("memories", "MemoryFeedback")
    MemoryUsage = apps.get_model("memories", "MemoryUsage")
    Conversation = apps.get_model("memories", "Conversation")

    bound = {d.mac: d for d in Device.objects.select_related("child").filter(child__isnull=False,
                                                                             memory_reset_pending=False)}
    with schema_editor.connection.cursor() as cur:
        tables = _mem0_tables(cur)
        for mac, device in bound.items():
            namespace = _namespace(device.child)
            for table in tables:
                cur.execute(
                    f'UPDATE "{table}" SET payload = payload || jsonb_build_object('
                    "'user_id', %s::text, 'device_id', %s::text, 'toy_agent_id', %s::text) "
                    "WHERE payload->>'user_id' = %s",
                    [namespace, str(device.pk), str(device.agent_id or ""), mac],
                )
            MemoryChange.objects.filter(namespace=mac).update(namespace=namespace)
            MemoryFeedback.objects.filter(namespace=mac).update(namespace=namespace)
            MemoryUsage.objects.filter(device=device).update(namespace=namespace)
            Conversation.objects.filter(device=device).update(child=device.child)
        # Everything still under a MAC: toys without a child, awaiting a reset, or deleted.
        for table in tables:
            cur.execute(f"DELETE FROM \"{table}\" WHERE payload->>'user_id' ~ '^([0-9a-f]{{2}}:){{5}}[0-9a-f]{{2}}$'")
    for model in (MemoryChange, MemoryFeedback):
        stale = [ns for ns in model.objects.values_list("namespace", flat=True).distinct() if MAC.match(ns)]
        model.objects.filter(namespace__in=stale).delete()
    MemoryUsage.objects.filter(namespace="").delete()
    Conversation.objects.filter(child__isnull=True).delete()
    # Queued profile pushes carry on as the devices room's queue rows; every linked child
    # gets one, so its single profile memory is rewritten in its new namespace.
    children = set(Outbox.objects.exclude(state="done").exclude(child=None).values_list("child_id", flat=True))
    children |= {d.child_id for d in bound.values()}
    ProfileSync.objects.bulk_create([ProfileSync(child_id=pk) for pk in sorted(children)])


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0002_child_memory_namespace"),
        ("memories", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="memoryusage",
            name="namespace",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="conversation",
            name="child",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="conversations", to="devices.childprofile"),
        ),
        migrations.AddField(
            model_name="conversation",
            name="epoch",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="conversation",
            name="agent",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                    to="devices.agent"),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="device",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="conversations", to="devices.device"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="conversation",
            name="child",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="conversations",
                                    to="devices.childprofile"),
        ),
        migrations.DeleteModel(name="Outbox"),
        migrations.CreateModel(
            name="Erasure",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=20, unique=True)),
                ("scope", models.CharField(choices=[
                    ("memories", "All memories of one child (the profile stays)"),
                    ("child", "One child and all their data"), ("household", "A whole household"),
                    ("account", "A parent's account"),
                    ("namespace", "A memory space without a child (playground, unlinked toy)")], max_length=10)),
                ("origin", models.CharField(max_length=40)),
                ("household_name", models.CharField(blank=True, max_length=100)),
                ("child_name", models.CharField(blank=True, max_length=60)),
                ("member_ids", models.JSONField(blank=True, default=list)),
                ("namespaces", models.JSONField(blank=True, default=list)),
                ("progress", models.JSONField(blank=True, default=dict)),
                ("receipt", models.JSONField(blank=True, default=dict)),
                ("state", models.CharField(choices=[("pending", "Queued"), ("running", "Erasing"),
                                                    ("done", "Erased and verified"), ("failed", "Failed — retrying")],
                                           db_index=True, default="pending", max_length=10)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("last_error", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                ("child", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name="erasures", to="devices.childprofile")),
                ("household", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                related_name="erasures", to="devices.household")),
                ("requested_by", models.ForeignKey(blank=True, null=True,
                                                   on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                                   to=settings.AUTH_USER_MODEL)),
                ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                           related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.AddField(
            model_name="deletionrequest",
            name="erasure",
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                       related_name="deletion_request", to="memories.erasure"),
        ),
    ]
