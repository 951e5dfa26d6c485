"""Exports: complete, streamed, versioned; large ones as jobs whose download link only the
household can use, and which expires."""

import csv
import io
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from memories import exports, services
from memories.models import Job
from portal.models import AuditEvent
from tests.conftest import wait_for

VECTOR = [0.0, 0.0, 1.0] + [0.0] * 381


def _json(child) -> dict:
    return json.loads("".join(exports.json_chunks(child)))


def test_json_export_of_ten_thousand_memories_is_complete(family, gw):
    ids = gw.bulk_insert(family.device_a.namespace, [f"fact {i}" for i in range(10_000)],
                         vectors=[VECTOR] * 10_000, metadata={"category": "other"})
    seen = []
    data = json.loads("".join(exports.json_chunks(family.child_a, on_progress=seen.append)))
    assert data["schema"] == exports.SCHEMA and data["version"] == 1
    assert data["memory_count"] == len(data["memories"]) == 10_000
    assert {m["id"] for m in data["memories"]} == set(ids)
    assert seen[-1] == 10_000 and len(seen) == 20  # streamed in batches
    assert data["child"]["name"] == "Rahul" and data["devices"][0]["namespace"] == family.device_a.namespace


def test_json_export_has_metadata_history_and_ratings(family, remember):
    memory = remember("Rahul plays the violin")
    services.memory_correct(actor=family.parent_a, child=family.child_a, memory_id=memory.id,
                            text="Rahul plays the cello")
    services.memory_rate(actor=family.parent_a2, child=family.child_a, memory_id=memory.id, rating="POSITIVE",
                         reason="yes")
    [item] = _json(family.child_a)["memories"]
    assert item["text"] == "Rahul plays the cello" and item["kind"] == "parent" and item["device"] == "Robot A"
    assert item["metadata"]["rating"] == "POSITIVE" and item["category"]
    assert item["rating"]["reason"] == "yes"
    events = [(h["event"], h["by"]) for h in item["history"]]
    assert ("UPDATE", "parent (parent.a@example.test)") in events and ("RATE", "parent (parent.a2@example.test)") in events


def test_csv_has_one_row_per_memory_and_defuses_formulas(family, gw):
    gw.add(family.device_a.namespace, '=HYPERLINK("http://evil")', {})
    gw.add(family.device_a.namespace, 'two\nlines, "quoted"', {})
    rows = list(csv.DictReader(io.StringIO("".join(exports.csv_chunks(family.child_a)))))
    assert [r["text"] for r in rows] == ['two\nlines, "quoted"', "'=HYPERLINK(\"http://evil\")"]
    assert set(rows[0]) == set(exports.CSV_FIELDS)


@pytest.mark.parametrize("fmt, content_type", [("json", "application/json"), ("csv", "text/csv; charset=utf-8")])
def test_small_export_downloads_at_once_and_is_audited(family, remember, login, fmt, content_type):
    remember("Rahul likes kites")
    client = login(family.parent_a)
    assert client.get(reverse("memories:export", args=[family.child_a.pk])).status_code == 200
    response = client.post(reverse("memories:export", args=[family.child_a.pk]), {"format": fmt})
    assert response.status_code == 200 and response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert "kites" in b"".join(response.streaming_content).decode()
    event = AuditEvent.objects.get(action=f"export.{fmt}")
    assert event.count == 1 and "kites" not in json.dumps(event.detail)


def test_bad_export_format_is_a_message(family, login):
    response = login(family.parent_a).post(reverse("memories:export", args=[family.child_a.pk]), {"format": "xml"})
    assert response.status_code == 200 and "Choose JSON or CSV" in response.content.decode()


@pytest.mark.worker
def test_large_export_is_a_job_with_a_household_only_expiring_link(family, gw, worker, login, monkeypatch):
    monkeypatch.setattr(services, "EXPORT_INLINE_MAX", 5)
    gw.bulk_insert(family.device_a.namespace, [f"fact {i}" for i in range(1200)], vectors=[VECTOR] * 1200)
    client = login(family.parent_a)
    response = client.post(reverse("memories:export", args=[family.child_a.pk]), {"format": "json"})
    job = Job.objects.get(kind=Job.Kind.EXPORT_JSON)
    assert response["Location"] == reverse("memories:job", args=[job.pk])
    wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.DONE, timeout=120)
    job.refresh_from_db()
    assert job.percent == 100 and job.done == job.total >= 1200
    assert job.expires_at > timezone.now() + timedelta(hours=settings.EXPORT_TTL_HOURS - 1)
    download = reverse("memories:download", args=[job.pk])
    assert download in client.get(reverse("memories:job", args=[job.pk])).content.decode()
    body = b"".join(login(family.parent_a2).get(download).streaming_content)
    assert json.loads(body)["memory_count"] == job.total
    assert login(family.parent_b).get(download).status_code == 404
    # Expired: refused at once, and the beat task removes the file.
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert login(family.parent_a).get(download).status_code == 410
    path = Path(settings.EXPORT_DIR) / job.file_path
    assert services.exports_expire() == 1 and not path.exists()
    assert Job.objects.get(pk=job.pk).state == Job.State.EXPIRED


def test_download_of_an_unfinished_job_is_refused(family, login):
    job = Job.objects.create(kind=Job.Kind.EXPORT_CSV, household=family.household_a, child=family.child_a)
    assert login(family.parent_a).get(reverse("memories:download", args=[job.pk])).status_code == 410


def test_expiry_removes_stray_old_files(db, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    old, fresh = tmp_path / ".abc.json.part", tmp_path / "new.json"
    old.write_text("x")
    fresh.write_text("y")
    past = (timezone.now() - timedelta(hours=settings.EXPORT_TTL_HOURS + 1)).timestamp()
    os.utime(old, (past, past))
    services.exports_expire()
    assert not old.exists() and fresh.exists()
