"""Erasure scope "selected": exactly the chosen memories of one child (retention)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("memories", "0005_queue_rows")]

    operations = [
        migrations.AddField(model_name="erasure", name="memory_ids",
                            field=models.JSONField(blank=True, default=list)),
        migrations.AlterField(
            model_name="erasure",
            name="scope",
            field=models.CharField(choices=[
                ("memories", "All memories of one child (the profile stays)"),
                ("child", "One child and all their data"), ("household", "A whole household"),
                ("account", "A parent's account"),
                ("namespace", "A memory space without a child (playground, unlinked toy)"),
                ("selected", "Chosen memories of one child (retention)")], max_length=10),
        ),
    ]
