"""One download of everything a household holds (GDPR access and portability): a job like
the child exports, one JSON file in the "exports" storage, for the household's members only;
any deletion of a child's memories removes it (it holds them)."""

import json

import pytest
from django.urls import reverse

from memories import exports, services
from memories.erasure import erasure_run, erasure_start
from memories.models import Job


def _prepared(family) -> Job:
    job = services.household_export_start(actor=family.parent_a, household=family.household_a)
    services.job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.file_path
    return job


def _data(job) -> dict:
    with exports.export_file_open(job.file_path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def test_the_download_holds_profiles_memories_ratings_activity_and_consents(family, gw):
    kite = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=kite.id, rating="NEGATIVE",
                         reason="not any more")
    services.memory_add(actor=family.parent_b, child=family.child_b, text="Mia has a cat")
    data = _data(_prepared(family))
    assert data["schema"] == "memory-portal.household-export" and data["version"] == 1
    assert {m["email"] for m in data["members"]} == {family.parent_a.email, family.parent_a2.email}
    (child,) = data["children"]
    assert child["name"] == "Rahul" and child["devices"][0]["mac"] == family.device_a.mac
    memory = next(m for m in child["memories"] if m["id"] == kite.id)
    assert memory["text"] == "Rahul likes kites" and memory["rating"]["reason"] == "not any more"
    assert data["memory_count"] == child["memory_count"] == len(child["memories"])
    assert "Mia has a cat" not in json.dumps(data, ensure_ascii=False)
    actions = {(e["action"], e["action_label"]) for e in data["activity"]}
    assert ("memory.rate", "Rated a memory") in actions
    assert {c["purpose"] for c in data["consents"]} >= {"collection"} and data["consents"][0]["child"] == "Rahul"


def test_only_the_households_members_download_it(family, gw, login):
    job = _prepared(family)
    assert login(family.parent_a2).get(reverse("memories:download", args=[job.pk])).status_code == 200
    assert login(family.parent_b).get(reverse("memories:download", args=[job.pk])).status_code == 404


def test_the_your_data_page_starts_it_with_a_post(family, login):
    client = login(family.parent_a)
    assert reverse("privacy:household_export") in client.get(reverse("privacy:overview")).content.decode()
    assert client.get(reverse("privacy:household_export")).status_code == 405
    response = client.post(reverse("privacy:household_export"))
    job = Job.objects.get(household=family.household_a, kind=Job.Kind.EXPORT_HOUSEHOLD)
    assert response.status_code == 302 and response["Location"] == reverse("memories:job", args=[job.pk])


@pytest.mark.parametrize("how", ["erase", "delete"])
def test_erasing_or_deleting_a_childs_memories_removes_the_download(family, gw, how):
    kite = services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    job = _prepared(family)
    if how == "erase":
        erasure_run(erasure_start(scope="memories", origin="parent", actor=family.parent_a, child=family.child_a,
                                  enqueue=False).pk)
        assert not Job.objects.filter(pk=job.pk).exists()
    else:
        services.memories_delete(actor=family.parent_a, child=family.child_a, memory_ids=[kite.id], grace_seconds=0)
        assert Job.objects.get(pk=job.pk).state == Job.State.EXPIRED
    assert not exports.export_file_exists(job.file_path)
