"""ProfileSync becomes a ``portal.queue.QueueRow``: when it is due again after a failure
(``next_attempt_at``), when a message was last sent for it (``sent_at``), and the ``dead``
state after the last allowed attempt. Existing rows are due now and count as sent now, so
the sweep sends whatever is still open once a lease has passed."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("devices", "0003_remove_device_memory_reset_pending")]

    operations = [
        migrations.AddField(
            model_name="profilesync",
            name="next_attempt_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="profilesync",
            name="sent_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AlterField(
            model_name="profilesync",
            name="state",
            field=models.CharField(
                choices=[("pending", "Pending"), ("running", "Running"), ("done", "Synced"),
                         ("failed", "Failed — retrying"), ("dead", "Failed — support has been told")],
                db_index=True, default="pending", max_length=10),
        ),
    ]
