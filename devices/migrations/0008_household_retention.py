"""Households: a retention period for learned memories (default 12 months), and closing
(by a parent or for inactivity) with the date after which everything is erased."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("devices", "0007_lookup_version")]

    operations = [
        migrations.AddField(
            model_name="household",
            name="retention_months",
            field=models.PositiveSmallIntegerField(
                blank=True, default=12, null=True, verbose_name="keep learned memories for",
                choices=[(3, "3 months"), (6, "6 months"), (12, "12 months"), (18, "18 months"),
                         (None, "Until I delete them")]),
        ),
        migrations.AddField(model_name="household", name="closed_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="household", name="close_reason",
                            field=models.CharField(blank=True, max_length=10)),
        migrations.AddField(model_name="household", name="erase_after",
                            field=models.DateTimeField(blank=True, null=True)),
    ]
