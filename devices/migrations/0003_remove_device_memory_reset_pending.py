from django.db import migrations


class Migration(migrations.Migration):
    """After memories/0002 moved (or erased) what each toy's MAC namespace held."""

    dependencies = [
        ("devices", "0002_child_memory_namespace"),
        ("memories", "0002_child_namespaces"),
    ]

    operations = [
        migrations.RemoveField(model_name="device", name="memory_reset_pending"),
    ]
