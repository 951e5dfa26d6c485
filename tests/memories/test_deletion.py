"""Deletion requests: every transition and its guard, the job (no trace in any store),
a job interrupted half way and re-run, the receipt and the audit entries."""

import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from devices import services as device_services
from devices.models import ChildProfile, Device, Household
from memories import deletion, erasure
from memories.models import (
    Conversation,
    DeletionRequest,
    Erasure,
    Job,
    MemoryChange,
    MemoryFeedback,
    MemoryUsage,
)
from portal.errors import ApplicationError
from portal.models import AuditEvent
from tests.conftest import unique_mac, wait_for

State = DeletionRequest.State


def seed(family, gw, marker: str) -> dict:
    """Memories with ``marker`` in every store: two devices of child A (vectors, an
    update's old text in history, a deleted memory's history, raw messages), our rows
    (rating, change, usage, a conversation) and an export file."""
    second = device_services.device_register(actor=family.parent_a, household=family.household_a,
                                             mac=unique_mac(), name="Robot A2", child=family.child_a)
    ns1, ns2 = family.device_a.namespace, second.namespace
    first = gw.add(ns1, f"Rahul loves {marker} dinosaurs", {})
    changed = gw.add(ns1, f"Best friend is {marker} Sam", {})
    gw.update(changed.id, text="Best friend is Sam")  # the old text (with the marker) is in history
    gone = gw.add(ns2, f"Gone already {marker}", {})
    gw.add(ns2, f"Plays {marker} football", {})
    gw.delete([gone.id])  # a parent deleted it earlier; our change record still names it
    MemoryFeedback.objects.create(memory_id=first.id, namespace=ns1, child=family.child_a, rating="POSITIVE")
    MemoryChange.objects.create(memory_id=changed.id, namespace=ns1, event="UPDATE", actor=family.parent_a,
                                actor_role="parent")
    MemoryChange.objects.create(memory_id=gone.id, namespace=ns2, event="ADD", actor=family.parent_a,
                                actor_role="parent")
    MemoryUsage.objects.create(memory_id=first.id, namespace=ns1, device=family.device_a, count=3,
                               last_used_at=timezone.now())
    Conversation.objects.create(device=second, child=second.child, messages=[{"role": "user", "content": f"I like {marker}"}])
    with gw._cursor(commit=True) as cur:  # what extraction leaves in Mem0's message store
        cur.execute(f'INSERT INTO "{gw.tables.messages}" (id, session_scope, user_id, role, content) '
                    "VALUES (%s, %s, %s, %s, %s)", [str(uuid.uuid4()), f"user_id={ns2}", ns2, "user", f"I like {marker}"])
    export_dir = Path(settings.EXPORT_DIR)
    export_dir.mkdir(parents=True, exist_ok=True)
    name = f"test-{marker}.json"
    (export_dir / name).write_text(f'{{"memories": ["{marker}"]}}')
    Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                       created_by=family.parent_a, state=Job.State.DONE, file_path=name)
    other = gw.add(family.device_b.namespace, "Mia likes cats", {})  # household B: must stay
    return {"namespaces": sorted({ns1, ns2}), "export": export_dir / name, "other": other,
            "ids": [first.id, changed.id, gone.id], "second": second}


def marker_traces(gw, namespaces, marker, ids) -> dict:
    totals = {}
    for namespace in namespaces:
        for store, count in gw.traces(namespace, marker=marker, memory_ids=ids).items():
            # marker_* counts search the whole store: the same for every namespace
            totals[store] = max(totals.get(store, 0), count) if store.startswith("marker") else (
                totals.get(store, 0) + count)
    return totals


def scheduled_request(family, *, scope="child"):
    req = deletion.request_create(actor=family.parent_a, household=family.household_a, scope=scope,
                                  child=family.child_a if scope == "child" else None)
    req = deletion.request_verify(actor=family.support, req=req, identity_check="Called back, confirmed MAC")
    return deletion.request_schedule(actor=family.support, req=req)


def test_due_date_is_received_plus_the_configured_days(family, settings):
    settings.DELETION_DUE_DAYS = 12
    received = timezone.now() - timedelta(days=2)
    req = deletion.request_create(actor=family.support, household=family.household_a, scope="household",
                                  channel="phone", received_at=received)
    assert req.due_at == received + timedelta(days=12)
    assert req.state == State.RECEIVED and req.requested_by == family.support


def test_support_logs_a_phone_request_with_the_identity_check(family):
    req = deletion.request_create(actor=family.support, household=family.household_a, scope="child",
                                  child=family.child_a, channel="email", identity_check="Replied from the account email")
    assert req.state == State.VERIFIED and req.verified_by == family.support
    assert req.identity_check == "Replied from the account email" and req.channel == "email"
    assert AuditEvent.objects.filter(action="deletion.verify", actor=family.support).exists()


def test_each_transition_and_its_guard(family):
    req = deletion.request_create(actor=family.parent_a, household=family.household_a, scope="child",
                                  child=family.child_a)
    assert req.state == State.RECEIVED and req.channel == "portal"
    for illegal in (deletion.request_schedule, deletion.request_execute, deletion.request_retry):
        with pytest.raises(ApplicationError) as exc:
            illegal(actor=family.support, req=req)
        assert exc.value.code == "illegal_transition"
    with pytest.raises(ApplicationError):  # verifying needs to say what was checked
        deletion.request_verify(actor=family.support, req=req, identity_check="  ")
    req = deletion.request_verify(actor=family.support, req=req, identity_check="Video call with the parent")
    assert req.state == State.VERIFIED
    with pytest.raises(ApplicationError):
        deletion.request_verify(actor=family.support, req=req, identity_check="again")
    with pytest.raises(ApplicationError):
        deletion.request_execute(actor=family.support, req=req)
    req = deletion.request_schedule(actor=family.support, req=req)
    assert req.state == State.SCHEDULED and req.namespaces == [family.device_a.namespace]
    with pytest.raises(ApplicationError):
        deletion.request_schedule(actor=family.support, req=req)
    req = deletion.request_execute(actor=family.support, req=req)
    assert req.state == State.EXECUTING
    with pytest.raises(ApplicationError):  # running, not silent for long: no second run
        deletion.request_retry(actor=family.support, req=req)
    DeletionRequest.objects.filter(pk=req.pk).update(state=State.FAILED, failure_reason="x")
    req.refresh_from_db()
    req = deletion.request_retry(actor=family.support, req=req)
    assert req.state == State.EXECUTING and req.failure_reason == ""
    DeletionRequest.objects.filter(pk=req.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    req.refresh_from_db()
    assert deletion.request_retry(actor=family.support, req=req).state == State.EXECUTING  # a silent job
    actions = set(AuditEvent.objects.filter(detail__request_id=req.pk).values_list("action", flat=True))
    assert {"deletion.request", "deletion.verify", "deletion.schedule", "deletion.execute",
            "deletion.retry"} <= actions


def test_a_stale_copy_cannot_move_twice(family):
    req = deletion.request_create(actor=family.parent_a, household=family.household_a, scope="household")
    stale = DeletionRequest.objects.get(pk=req.pk)
    deletion.request_verify(actor=family.support, req=req, identity_check="ok")
    stale.state = State.RECEIVED
    with pytest.raises(ApplicationError):
        deletion.request_verify(actor=family.admin, req=stale, identity_check="ok")


def test_requests_are_refused_when_they_make_no_sense(family):
    with pytest.raises(ApplicationError):  # another household's child
        deletion.request_create(actor=family.parent_a, household=family.household_a, scope="child",
                                child=family.child_b)
    with pytest.raises(ApplicationError):
        deletion.request_create(actor=family.parent_a, household=family.household_a, scope="everything")
    with pytest.raises(ApplicationError):  # support does not pretend a request came from the portal
        deletion.request_create(actor=family.support, household=family.household_a, scope="household")
    with pytest.raises(ApplicationError):
        deletion.request_create(actor=family.support, household=family.household_a, scope="household",
                                channel="phone", received_at=timezone.now() + timedelta(days=3))
    deletion.request_create(actor=family.parent_a, household=family.household_a, scope="child", child=family.child_a)
    with pytest.raises(ApplicationError) as exc:
        deletion.request_create(actor=family.parent_a2, household=family.household_a, scope="household")
    assert exc.value.code == "duplicate_request"
    from django.http import Http404

    with pytest.raises(Http404):  # a parent of another household
        deletion.request_create(actor=family.parent_b, household=family.household_a, scope="household")


def test_child_deletion_leaves_no_trace_and_a_receipt(family, gw):
    marker = f"zq{secrets.token_hex(6)}"
    seeded = seed(family, gw, marker)
    before = marker_traces(gw, seeded["namespaces"], marker, seeded["ids"])
    assert before["marker_vectors"] == 2 and before["marker_history"] >= 1 and before["marker_messages"] == 1
    req = deletion.request_execute(actor=family.support, req=scheduled_request(family))
    assert sorted(req.namespaces) == sorted(seeded["namespaces"])
    deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.COMPLETED, req.failure_reason
    left = marker_traces(gw, seeded["namespaces"], marker, seeded["ids"])
    assert not any(left.values()), left
    assert not seeded["export"].exists()
    assert not MemoryFeedback.objects.filter(namespace__in=seeded["namespaces"]).exists()
    assert not MemoryChange.objects.filter(namespace__in=seeded["namespaces"]).exists()
    assert not Conversation.objects.filter(child_id=family.child_a.pk).exists()
    assert not ChildProfile.objects.filter(pk=family.child_a.pk).exists()
    assert Device.objects.filter(pk=family.device_a.pk, child=None).exists()  # the toy stays registered
    assert gw.get(seeded["other"].id) is not None  # household B is untouched
    counts = req.receipt["counts"]
    assert counts["memories"] == 3 and counts["exports"] == 1
    assert counts["feedback"] == 1 and counts["changes"] == 2 and counts["usage"] == 1
    assert counts["conversations"] == 1 and counts["children"] == 1
    assert req.receipt["request_id"] == req.pk and req.completed_at is not None
    assert "progress" not in req.receipt and marker not in str(req.receipt) and marker not in req.identity_check
    event = AuditEvent.objects.get(action="deletion.completed", detail__request_id=req.pk)
    assert event.count == 3 and event.child_name == "Rahul" and marker not in str(event.detail)
    deletion.request_run(req.pk)  # a duplicate delivery does nothing
    assert AuditEvent.objects.filter(action="deletion.completed", detail__request_id=req.pk).count() == 1


def test_household_deletion_removes_the_household_and_the_parent_keeps_the_receipt(family, gw, login):
    marker = f"zq{secrets.token_hex(6)}"
    seeded = seed(family, gw, marker)
    req = deletion.request_execute(actor=family.support, req=scheduled_request(family, scope="household"))
    deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.COMPLETED, req.failure_reason
    assert not Household.objects.filter(pk=family.household_a.pk).exists()
    assert not Device.objects.filter(pk__in=[family.device_a.pk, seeded["second"].pk]).exists()
    assert not any(marker_traces(gw, seeded["namespaces"], marker, seeded["ids"]).values())
    assert req.receipt["counts"]["members"] == 2 and req.receipt["counts"]["toys"] == 2
    assert req.household_name == "Family A" and req.household is None
    page = login(family.parent_a2).get(f"/household/privacy/deletion/{req.pk}/")
    assert page.status_code == 200 and "Receipt" in page.content.decode()
    assert login(family.parent_b).get(f"/household/privacy/deletion/{req.pk}/").status_code == 404


class Crash(BaseException):
    """What a killed worker looks like to the code after it: nothing more runs."""


def test_a_job_interrupted_half_way_completes_when_run_again(family, gw, monkeypatch):
    marker = f"zq{secrets.token_hex(6)}"
    seeded = seed(family, gw, marker)
    req = deletion.request_execute(actor=family.support, req=scheduled_request(family))
    real_purge, calls = type(gw).purge_namespace, []

    def purge_then_die(self, namespace, *, known_ids=()):
        calls.append(namespace)
        if len(calls) == 1:  # the worker dies as the purge starts
            raise Crash()
        return real_purge(self, namespace, known_ids=known_ids)

    monkeypatch.setattr(type(gw), "purge_namespace", purge_then_die)
    with pytest.raises(Crash):
        deletion.request_run(req.pk)
    monkeypatch.setattr(type(gw), "purge_namespace", real_purge)
    req.refresh_from_db()
    assert req.state == State.EXECUTING and req.erasure.progress["runs"] == 1
    assert marker_traces(gw, seeded["namespaces"], marker, seeded["ids"])["marker_vectors"] >= 1
    deletion.request_run(req.pk)  # at once: the first run may still be alive, nothing runs twice
    assert Erasure.objects.get(pk=req.erasure_id).progress["runs"] == 1
    # The dead run's lease runs out; the broker (or the sweep) delivers the message again.
    Erasure.objects.filter(pk=req.erasure_id).update(updated_at=timezone.now() - timedelta(minutes=10))
    deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.COMPLETED, req.failure_reason
    assert not any(marker_traces(gw, seeded["namespaces"], marker, seeded["ids"]).values())
    assert req.receipt["counts"]["memories"] == 3  # the first run's count survives


def test_an_error_mid_purge_fails_with_a_reason_and_a_retry_completes(family, gw, monkeypatch):
    marker = f"zq{secrets.token_hex(6)}"
    seeded = seed(family, gw, marker)
    req = deletion.request_execute(actor=family.support, req=scheduled_request(family))
    real_remove = erasure._remove_rows

    def remove_then_fail(plan, erasure_):
        real_remove(plan, erasure_)
        raise RuntimeError(f"boom {marker}")

    monkeypatch.setattr(erasure, "_remove_rows", remove_then_fail)
    deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.FAILED and "RuntimeError" in req.failure_reason and marker not in req.failure_reason
    monkeypatch.setattr(erasure, "_remove_rows", real_remove)
    req = deletion.request_retry(actor=family.support, req=req)
    deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.COMPLETED
    assert not any(marker_traces(gw, seeded["namespaces"], marker, seeded["ids"]).values())
    assert req.receipt["counts"]["feedback"] == 1 and req.receipt["counts"]["children"] == 1


def test_mem0_down_keeps_the_request_executing_for_the_retry(family, gw, monkeypatch):
    from memories.gateway import Mem0Unavailable

    req = deletion.request_execute(actor=family.support, req=scheduled_request(family))

    def down(self, *args, **kwargs):
        raise Mem0Unavailable("OperationalError")

    monkeypatch.setattr(type(gw), "iter_all", down)
    with pytest.raises(Mem0Unavailable):
        deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.EXECUTING


def test_traces_left_behind_fail_the_request(family, gw, monkeypatch):
    req = deletion.request_execute(actor=family.support, req=scheduled_request(family))
    monkeypatch.setattr(erasure, "remaining", lambda plan, e, ids: {"history": 2, "vectors": 0})
    deletion.request_run(req.pk)
    req.refresh_from_db()
    assert req.state == State.FAILED and "history=2" in req.failure_reason


@pytest.mark.worker
def test_the_worker_executes_a_request(family, gw, worker):
    marker = f"zq{secrets.token_hex(6)}"
    seeded = seed(family, gw, marker)
    req = deletion.request_execute(actor=family.support, req=scheduled_request(family))
    wait_for(lambda: DeletionRequest.objects.get(pk=req.pk).state in (State.COMPLETED, State.FAILED), timeout=90)
    req.refresh_from_db()
    assert req.state == State.COMPLETED, req.failure_reason
    assert not any(marker_traces(gw, seeded["namespaces"], marker, seeded["ids"]).values())
