"""Conversations, jobs and erasures become ``portal.queue.QueueRow``s: when each is due again
after a failure (``next_attempt_at``), when a message was last sent for it (``sent_at``),
jobs count their attempts too, and every queue gets the ``dead`` state after the last
allowed attempt. Existing rows are due now and count as sent now, so the sweep sends
whatever is still open once a lease has passed."""

import django.utils.timezone
from django.db import migrations, models

DEAD = ("dead", "Failed — support has been told")


def _due():
    return models.DateTimeField(default=django.utils.timezone.now)


def _sent():
    return models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True)


def _state(choices):
    return models.CharField(choices=[*choices, DEAD], db_index=True, default="pending", max_length=10)


class Migration(migrations.Migration):
    dependencies = [("memories", "0004_conversation_body_hash")]

    operations = [
        migrations.AddField(model_name="conversation", name="next_attempt_at", field=_due()),
        migrations.AddField(model_name="conversation", name="sent_at", field=_sent()),
        migrations.AddField(model_name="erasure", name="next_attempt_at", field=_due()),
        migrations.AddField(model_name="erasure", name="sent_at", field=_sent()),
        migrations.AddField(model_name="job", name="attempts", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="job", name="next_attempt_at", field=_due()),
        migrations.AddField(model_name="job", name="sent_at", field=_sent()),
        migrations.AlterField(model_name="conversation", name="state", field=_state([
            ("pending", "Pending"), ("running", "Running"), ("done", "Done"), ("dropped", "Dropped"),
            ("failed", "Failed — retrying")])),
        migrations.AlterField(model_name="erasure", name="state", field=_state([
            ("pending", "Queued"), ("running", "Erasing"), ("done", "Erased and verified"),
            ("failed", "Failed — retrying")])),
        migrations.AlterField(model_name="job", name="state", field=_state([
            ("pending", "Queued"), ("running", "Running"), ("done", "Done"), ("failed", "Failed — retrying"),
            ("expired", "Expired")])),
    ]
