"""Two worker hosts with their own var/ folders against one database (the way a deployment
grows): nothing a parent sees or erases depends on which host did the work. Mem0's history
and messages live in PostgreSQL; exports in the shared "exports" storage (the file system
here, as a bucket would be to several hosts)."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from devices import services as device_services
from memories import selectors, services
from memories.gateway import PROFILE_KIND, ListFilter
from memories.models import Erasure, Job
from tests.conftest import wait_for


def files_mentioning(folder: Path, marker: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]


@pytest.mark.worker
def test_two_hosts_one_truth(family, gw, start_worker, login, settings, tmp_path, marker, monkeypatch):
    bucket = tmp_path / "bucket"
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(bucket)}}}
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    storage = {"EXPORT_DIR": str(bucket)}

    # Host A: a profile push (Mem0 writes history there) and an export job.
    worker_a = start_worker(PORTAL_VAR_DIR=str(host_a), **storage)
    device_services.child_update(actor=family.parent_a, child=family.child_a, toy_note="likes kites")
    profile = wait_for(lambda: gw.list([family.child_a.namespace], flt=ListFilter(kinds=(PROFILE_KIND,))).items)
    record = services.memory_add(actor=family.parent_a, child=family.child_a, text=f"Rahul's kite {marker}")
    services.memory_correct(actor=family.parent_a, child=family.child_a, memory_id=record.id,
                            text=f"Rahul's red kite {marker}")
    monkeypatch.setattr(services, "EXPORT_INLINE_MAX", 0)
    job = services.export_start(actor=family.parent_a, child=family.child_a, fmt="json")
    wait_for(lambda: Job.objects.get(pk=job.pk).state == Job.State.DONE, timeout=120)
    worker_a.stop()

    # Any other host (this test process has a third var/): the whole timeline, the download.
    events = [e.event for e in selectors.memory_timeline(family.child_a, gw.get(record.id))]
    assert events[:2] == ["ADD", "UPDATE"]
    assert [e.event for e in selectors.memory_timeline(family.child_a, profile[0])][0] == "ADD"  # host A's write
    download = login(family.parent_a).get(reverse("memories:download", args=[job.pk]))
    assert download.status_code == 200
    assert marker in json.dumps(json.loads(b"".join(download.streaming_content)))

    # Host B erases everything; the check, from here, finds nothing anywhere.
    start_worker(PORTAL_VAR_DIR=str(host_b), **storage)
    job = services.memories_delete_all(actor=family.parent_a, child=family.child_a, confirmation="Rahul")
    done = wait_for(lambda: Erasure.objects.filter(child=family.child_a, state=Erasure.State.DONE).first(),
                    timeout=120)
    assert {"vectors", "history", "messages", "exports"} <= set(done.receipt["verified_empty"])
    left = gw.traces(family.child_a.namespace, marker=marker, memory_ids=[record.id])
    assert left["marker_vectors"] == 0 and left["marker_history"] == 0 and left["history"] == 0
    assert not files_mentioning(bucket, marker)
    assert not files_mentioning(host_a, marker) and not files_mentioning(host_b, marker)
