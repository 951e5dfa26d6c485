"""The toy routes' fixed costs: what they look up is kept in each process under a version
the database bumps on every committed change (a revoked token stops working at once, in
this process and in another; an erasure queued or finished and a 🚫 apply at the next call);
usage counts and the Mem0-compatible calls' audit entries are batched off the request path,
none lost and none written back after an erasure. Warm, memory-context and the
Mem0-compatible search each read the lookup version and nothing else."""

import json
import os
import re
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import lookups, services, tokens
from devices.models import Consent, Device, DeviceToken
from memories.erasure import erasure_run, erasure_start, new_reference
from memories.models import Erasure, MemoryFeedback, MemoryUsage
from portal import batches
from portal.models import AuditEvent
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url

fleet, toy = conftest_api.fleet, conftest_api.toy
TOY_TABLES = re.compile(r'"devices_(devicetoken|device|childprofile|agent|consent)"')


@contextmanager
def running_gunicorn():
    """The web server as production runs it (gunicorn.conf.py), on the test database."""
    import httpx
    from django.conf import settings

    from portal.processes import database_url
    from tests.conftest import wait_for

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY,
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_QUEUE": f"gunicorn-{port}",
           "DEBUG": "true", "ALLOWED_HOSTS": "127.0.0.1", "WEB_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "1", "WEB_THREADS": "4"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "portal.wsgi"], cwd=settings.BASE_DIR,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=120)
        yield base
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def kites(family, gw):
    return gw.add(family.child_a.namespace, "Rahul loves flying kites on windy days", {"kind": "learned"})


def context(client, family, query="kites"):
    return client.get(api_url(family.device_a.mac, "memory-context") + f"?query={query}")


@pytest.fixture
def mem0(fleet):
    """A toy server's MemoryClient (the Mem0-compatible routes) with the fleet token."""
    return Client(headers={"Authorization": f"Token {fleet[1]}"})


def search(client, family, query="kites"):
    return client.post("/api/v1/mem0/v3/memories/search/", content_type="application/json",
                       data=json.dumps({"query": query, "filters": {"user_id": family.device_a.mac}}))


def served_ids(family, toy, mem0, query="kites") -> tuple[set, set]:
    """What memory-context and the Mem0-compatible search serve now."""
    return ({i["id"] for i in context(toy, family, query).json()["items"]},
            {r["id"] for r in search(mem0, family, query).json()["results"]})


@pytest.mark.django_db
def test_a_warm_call_reads_one_version_instead_of_the_token_toy_child_and_consent(family, toy, kites):
    assert context(toy, family).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert context(toy, family).json()["items"][0]["id"] == kites.id
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert sum("devices_lookup_version" in sql for sql in reads) == 1
    assert not [sql for sql in reads if TOY_TABLES.search(sql)]


@pytest.mark.django_db
def test_an_erasure_queued_or_finished_applies_at_the_next_call(family, toy, mem0, kites):
    """Nothing but the erasure's row changes (a household's erasure names no child): both
    routes stop serving at the next call, and serve again once it is done."""
    assert served_ids(family, toy, mem0) == ({kites.id}, {kites.id})
    erasure = Erasure.objects.create(reference=new_reference(), scope=Erasure.Scope.HOUSEHOLD, origin="support",
                                     household=family.household_a)
    assert served_ids(family, toy, mem0) == (set(), set())
    assert context(toy, family).json()["reason"] == "erasing"
    Erasure.objects.filter(pk=erasure.pk).update(state=Erasure.State.DONE)
    assert served_ids(family, toy, mem0) == ({kites.id}, {kites.id})


@pytest.mark.django_db
def test_a_block_whose_mirror_to_mem0_waits_is_served_by_neither_route(family, toy, mem0, kites, gw):
    """A parent's 🚫 is our record first; Mem0's copy gets it by a task when Mem0 was down.
    Meanwhile memory-context serves it no more than the Mem0-compatible search; taken back,
    it is served again."""
    assert served_ids(family, toy, mem0) == ({kites.id}, {kites.id})
    rating = MemoryFeedback.objects.create(memory_id=kites.id, namespace=family.child_a.namespace,
                                           child=family.child_a, rating=MemoryFeedback.Rating.VERY_NEGATIVE)
    assert gw.get(kites.id).rating is None  # the mirror has not happened
    assert served_ids(family, toy, mem0) == (set(), set())
    rating.delete()
    assert served_ids(family, toy, mem0) == ({kites.id}, {kites.id})


@pytest.mark.django_db
def test_a_revoked_token_stops_working_at_once(family, fleet, toy, kites):
    assert context(toy, family).status_code == 200
    tokens.token_revoke(actor=family.admin, token=fleet[0])
    assert context(toy, family).status_code == 401


@pytest.mark.django_db
def test_a_withdrawn_consent_and_a_moved_toy_apply_at_once(family, toy, kites):
    assert context(toy, family).json()["enabled"] is True
    Consent.objects.filter(child=family.child_a).update(withdrawn_at=timezone.now())
    assert context(toy, family).json()["reason"] == "no_consent"
    services.device_assign(actor=family.parent_a, device=family.device_a, child=None)
    assert context(toy, family).json()["code"] == "device_unbound"


@pytest.mark.django_db
def test_stamping_last_seen_or_last_used_keeps_the_cache(family, fleet):
    version = lookups.current_version()
    Device.objects.filter(pk=family.device_a.pk).update(last_seen_at=timezone.now())
    DeviceToken.objects.filter(pk=fleet[0].pk).update(last_used_at=timezone.now())
    assert lookups.current_version() == version
    Device.objects.filter(pk=family.device_a.pk).update(name="Renamed robot")
    assert lookups.current_version() == version + 1


def test_a_token_revoked_in_another_process_stops_at_once(family, fleet, gw, transactional_db, kites):
    """A gunicorn process caches the token; revoking it here (committed) refuses its next call."""
    import httpx

    with running_gunicorn() as base:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {fleet[1]}"}, timeout=60) as http:
            url = f"/api/v1/devices/{family.device_a.mac}/memory-context"
            for _ in range(3):
                assert http.get(url, params={"query": "kites"}).status_code == 200
            tokens.token_revoke(actor=family.admin, token=fleet[0])
            assert http.get(url, params={"query": "kites"}).status_code == 401


@pytest.fixture
def batching(db):
    batches.start(interval=3600)  # written only when the test says so
    yield
    batches.stop()


def test_usage_counts_are_written_in_a_batch_off_the_request_path(family, toy, kites, transactional_db,
                                                                 batching):
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(5):
            assert context(toy, family).json()["items"]
    assert not [q for q in ctx.captured_queries if "memoryusage" in q["sql"]]
    assert not MemoryUsage.objects.exists()
    assert batches.flush() == 5
    assert MemoryUsage.objects.get(memory_id=kites.id, device=family.device_a).count == 5
    assert context(toy, family).status_code == 200
    batches.stop()  # a worker's exit writes what waits
    assert MemoryUsage.objects.get(memory_id=kites.id, device=family.device_a).count == 6


def test_warm_memory_context_and_mem0_search_each_read_only_the_lookup_version(family, toy, mem0, kites,
                                                                              batching):
    """As in a web server (counts and audit entries wait for their batch): no query for
    whether an erasure is under way or which memories are 🚫 (both kept with the lookups)."""
    for call in (lambda: context(toy, family), lambda: search(mem0, family)):
        assert kites.id in call().content.decode()  # cold: fills the cache, stamps last_seen/last_used
        with CaptureQueriesContext(connection) as ctx:
            assert kites.id in call().content.decode()
        assert [q["sql"] for q in ctx.captured_queries] == ["SELECT value FROM devices_lookup_version WHERE id = 1"]


def test_the_mem0_calls_audit_is_written_in_a_batch_each_entry_at_its_calls_time(family, mem0, kites,
                                                                                 transactional_db, batching):
    times, served = [], 0
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            before = timezone.now()
            results = search(mem0, family).json()["results"]
            assert results
            served += len(results)
            times.append((before, timezone.now()))
    assert not [q for q in ctx.captured_queries if "portal_auditevent" in q["sql"]]
    assert not AuditEvent.objects.filter(action__startswith="toy.").exists()
    assert batches.flush() == 3 + served  # three entries, a count per memory served
    entries = list(AuditEvent.objects.filter(action="toy.search").order_by("created_at"))
    assert [(e.child_id, e.child_name, e.household_id) for e in entries] == [
        (family.child_a.pk, "Rahul", family.household_a.pk)] * 3
    assert sum(e.count for e in entries) == served
    assert all(start <= e.created_at <= end for e, (start, end) in zip(entries, times, strict=True))
    assert entries[0].detail == {"token_id": entries[0].detail["token_id"], "device_id": family.device_a.pk}
    assert search(mem0, family).status_code == 200
    batches.stop()  # a worker's exit writes what waits
    assert AuditEvent.objects.filter(action="toy.search").count() == 4


@pytest.mark.django_db
def test_an_entry_written_after_the_childs_memories_were_erased_leaves_out_the_name(family, mem0, kites,
                                                                                   batching):
    """The erasure blanks the child's name in the trail; an entry of a call before it that
    waited for its batch does not bring the name back."""
    assert search(mem0, family).json()["results"]
    erasure_start(scope=Erasure.Scope.MEMORIES, origin="parent", actor=family.parent_a, child=family.child_a,
                  enqueue=False)
    batches.flush()
    entry = AuditEvent.objects.get(action="toy.search")
    assert (entry.child_id, entry.child_name, entry.household_id) == (family.child_a.pk, "", family.household_a.pk)


def test_an_entry_of_a_household_erased_before_its_batch_keeps_ids_only(family, mem0, kites, transactional_db,
                                                                       batching):
    """The household and child are gone when the batch is written: the entry is written
    (not refused for its household, which would keep the whole batch waiting) without them."""
    assert search(mem0, family).json()["results"]
    erasure = erasure_start(scope=Erasure.Scope.HOUSEHOLD, origin="support", actor=family.support,
                            household=family.household_a, enqueue=False)
    assert erasure_run(erasure.pk).state == Erasure.State.DONE
    batches.flush()
    entry = AuditEvent.objects.get(action="toy.search")
    assert (entry.child_id, entry.child_name, entry.household_id) == (family.child_a.pk, "", None)


def test_counts_of_a_child_erased_since_are_not_written_back(family, toy, kites, transactional_db, batching):
    assert context(toy, family).json()["items"]
    erasure_start(scope=Erasure.Scope.MEMORIES, origin="parent", actor=family.parent_a, child=family.child_a,
                  enqueue=False)
    batches.flush()
    assert not MemoryUsage.objects.filter(namespace=family.child_a.namespace).exists()


def wsgi_get(app, path, headers=None):
    """One GET through a WSGI application, as gunicorn calls it (inside the test's transaction)."""
    from io import BytesIO
    from wsgiref.util import setup_testing_defaults

    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    path, _, query = path.partition("?")
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET", "SERVER_NAME": "testserver",
               "HTTP_HOST": "testserver", "wsgi.input": BytesIO(), **(headers or {})}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(response_headers)

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(app(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body


@pytest.mark.django_db
def test_the_toy_api_skips_the_middleware_of_browser_pages(family, fleet, kites):
    from portal.wsgi import application

    status, headers, body = wsgi_get(application, api_url(family.device_a.mac, "memory-context") + "?query=kites",
                                     {"HTTP_AUTHORIZATION": f"Bearer {fleet[1]}"})
    assert status.startswith("200") and kites.id.encode() in body
    assert "no-store" in headers["Cache-Control"]  # what an API answer needs stays
    assert "X-Frame-Options" not in headers and "Set-Cookie" not in headers
    assert "Cookie" not in headers.get("Vary", "") and "HX-Request" not in headers.get("Vary", "")
    status, headers, _ = wsgi_get(application, "/accounts/login/")
    assert status.startswith("200") and headers["X-Frame-Options"] == "DENY"  # pages keep theirs
