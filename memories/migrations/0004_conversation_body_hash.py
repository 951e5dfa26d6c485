"""The hash of the messages first posted under an Idempotency-Key: the same key with other
messages is refused (409 ``idempotency_conflict``) instead of answered as the first one.
Rows from before have none ("" matches any body, as before)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("memories", "0003_mem0_tables")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="body_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
