"""Parental consent: verifications (the signed form waiting for support's check) and one
Consent row per purpose, child and notice version."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0004_profilesync_queue_row"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ConsentVerification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=20, unique=True)),
                ("signer_name", models.CharField(max_length=120)),
                ("purposes", models.JSONField(default=list)),
                ("notice_version", models.CharField(max_length=20)),
                ("method", models.CharField(max_length=20)),
                ("state", models.CharField(choices=[("awaiting_form", "Waiting for the signed form"),
                                                    ("submitted", "Form received, being checked"),
                                                    ("approved", "Verified"), ("rejected", "Not accepted")],
                                           db_index=True, default="awaiting_form", max_length=15)),
                ("form_bytes", models.BinaryField(blank=True, editable=False, null=True)),
                ("form_content_type", models.CharField(blank=True, max_length=40)),
                ("evidence_sha256", models.CharField(blank=True, max_length=64)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_note", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("child", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                            related_name="consent_verifications", to="devices.childprofile")),
                ("decided_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("household", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                related_name="consent_verifications", to="devices.household")),
                ("requested_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                   related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.CreateModel(
            name="Consent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("purpose", models.CharField(choices=[
                    ("collection", "The toy remembers what the child tells it"),
                    ("llm", "Conversations are sent to the LLM provider to find what to remember"),
                    ("mem0_platform", "Memories are stored on the Mem0 Platform")], max_length=20)),
                ("notice_version", models.CharField(max_length=20)),
                ("method", models.CharField(max_length=20)),
                ("signer_name", models.CharField(max_length=120)),
                ("granted_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("withdrawn_at", models.DateTimeField(blank=True, null=True)),
                ("withdrawal", models.CharField(blank=True, choices=[
                    ("keep_paused", "Memories kept, memory paused"), ("erase", "Memories erased"),
                    ("superseded", "Replaced by a newer consent")], max_length=12)),
                ("child", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="consents",
                                            to="devices.childprofile")),
                ("granted_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("household", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="consents",
                                                to="devices.household")),
                ("verification", models.ForeignKey(blank=True, null=True,
                                                   on_delete=django.db.models.deletion.SET_NULL,
                                                   related_name="consents", to="devices.consentverification")),
                ("verified_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                  related_name="+", to=settings.AUTH_USER_MODEL)),
                ("withdrawn_by", models.ForeignKey(blank=True, null=True,
                                                   on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                                   to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["-granted_at", "-id"],
                "indexes": [models.Index(fields=["child", "purpose"], name="devices_con_child_i_05e8c0_idx")],
                "constraints": [models.UniqueConstraint(condition=models.Q(("withdrawn_at", None)),
                                                        fields=("child", "purpose"),
                                                        name="one_live_consent_per_purpose")],
            },
        ),
    ]
