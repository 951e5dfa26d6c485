"""A child's memories belong to the child: each child gets an opaque namespace key.
Households no longer cascade to children or toys (the erase path deletes them), and
profile pushes become a queue row of this room (``ProfileSync``)."""

import uuid

import django.db.models.deletion
from django.db import migrations, models


def give_each_child_a_key(apps, schema_editor):
    ChildProfile = apps.get_model("devices", "ChildProfile")
    for child in ChildProfile.objects.filter(memory_key__isnull=True).only("pk"):
        ChildProfile.objects.filter(pk=child.pk).update(memory_key=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="childprofile",
            name="memory_key",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_child_a_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="childprofile",
            name="memory_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="childprofile",
            name="memory_epoch",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AlterField(
            model_name="childprofile",
            name="household",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="children",
                                    to="devices.household"),
        ),
        migrations.AlterField(
            model_name="device",
            name="household",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="devices",
                                    to="devices.household"),
        ),
        migrations.CreateModel(
            name="ProfileSync",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("state", models.CharField(choices=[("pending", "Pending"), ("running", "Running"),
                                                    ("done", "Synced"), ("failed", "Failed — retrying")],
                                           db_index=True, default="pending", max_length=10)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("last_error", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("done_at", models.DateTimeField(blank=True, null=True)),
                ("child", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                            related_name="profile_syncs", to="devices.childprofile")),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["child", "-created_at"], name="devices_pro_child_i_402b68_idx"),
                            models.Index(fields=["state", "updated_at"], name="devices_pro_state_8cd204_idx")],
            },
        ),
    ]
