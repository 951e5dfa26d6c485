"""Exports: complete, streamed, versioned; large ones as jobs whose download link only the
household can use, and which expires."""

import csv
import io
import json
import os
import subprocess
import sys
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
    assert data["child"]["name"] == "Rahul" and data["devices"][0]["mac"] == family.device_a.mac


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


# -- the "exports" storage (settings.STORAGES): every write, read, download and removal ----------

@pytest.fixture
def export_store(settings, tmp_path):
    """The exports storage on the file system in a temp dir, apart from EXPORT_DIR: code
    that went to EXPORT_DIR on this host's disk instead of the storage finds nothing there."""
    settings.EXPORT_DIR = tmp_path / "this-hosts-export-dir"
    location = tmp_path / "storage"
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}}}
    return location


def _finished_job(family, name):
    return Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                              created_by=family.parent_a, state=Job.State.DONE, file_path=name, total=1,
                              expires_at=timezone.now() + timedelta(hours=1))


def test_an_export_is_written_served_and_removed_through_the_storage(family, remember, login, export_store):
    remember("Rahul likes kites")
    name = exports.write_file(family.child_a, "json")
    assert (export_store / name).is_file() and exports.export_file_exists(name)
    assert not Path(settings.EXPORT_DIR).exists()
    job = _finished_job(family, name)
    response = login(family.parent_a2).get(reverse("memories:download", args=[job.pk]))
    assert response.status_code == 200
    assert json.loads(b"".join(response.streaming_content))["memories"][0]["text"] == "Rahul likes kites"
    services.exports_discard(family.child_a)
    assert not (export_store / name).exists() and not exports.export_file_exists(name)
    assert Job.objects.get(pk=job.pk).state == Job.State.EXPIRED
    exports.export_file_delete(name)  # already gone: fine (an erase may run twice)


def test_a_download_comes_from_the_storage_whichever_host_wrote_it(family, login, export_store):
    """A worker on another host saved the file: this web host's disk never had it."""
    name = exports.export_storage().save("from-another-host.json", io.BytesIO(b'{"memory_count": 0}'))
    job = _finished_job(family, name)
    response = login(family.parent_a).get(reverse("memories:download", args=[job.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b'{"memory_count": 0}'
    exports.export_file_delete(name)
    assert login(family.parent_a).get(reverse("memories:download", args=[job.pk])).status_code == 410


def test_expiry_removes_expired_and_stray_old_files_from_the_storage(family, export_store):
    storage = exports.export_storage()
    expired = _finished_job(family, storage.save("expired.json", io.BytesIO(b"x")))
    Job.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    stray, fresh = storage.save(".abc.json.part", io.BytesIO(b"x")), storage.save("new.json", io.BytesIO(b"y"))
    past = (timezone.now() - timedelta(hours=settings.EXPORT_TTL_HOURS + 1)).timestamp()
    os.utime(export_store / stray, (past, past))
    assert services.exports_expire() == 1
    assert not storage.exists("expired.json") and not storage.exists(stray) and storage.exists(fresh)
    assert Job.objects.get(pk=expired.pk).state == Job.State.EXPIRED


def _exports_storage_in_a_fresh_process(**env) -> dict:
    code = ("import json, sys, django; django.setup(); from django.core.files.storage import storages; "
            "s = storages['exports']; print(json.dumps({'class': type(s).__module__ + '.' + type(s).__name__, "
            "'location': str(s.location), 'bucket': getattr(s, 'bucket_name', None), "
            "'endpoint': getattr(s, 'endpoint_url', None), 'region': getattr(s, 'region_name', None), "
            "'boto_imported': 'boto3' in sys.modules}))")
    base = {k: v for k, v in os.environ.items() if not k.startswith("EXPORT_")}
    result = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True,
                            env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_exports_storage_is_the_file_system_by_default_and_s3_by_configuration(tmp_path):
    local = _exports_storage_in_a_fresh_process(EXPORT_DIR=str(tmp_path))
    assert local["class"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert local["location"] == str(tmp_path) and not local["boto_imported"]
    s3 = _exports_storage_in_a_fresh_process(
        EXPORT_S3_BUCKET="portal-exports", EXPORT_S3_ENDPOINT_URL="http://127.0.0.1:9", EXPORT_S3_REGION="eu-west-1",
        EXPORT_S3_ACCESS_KEY_ID="key", EXPORT_S3_SECRET_ACCESS_KEY="secret")
    assert s3 == {"class": "storages.backends.s3.S3Storage", "location": "exports", "bucket": "portal-exports",
                  "endpoint": "http://127.0.0.1:9", "region": "eu-west-1", "boto_imported": True}
