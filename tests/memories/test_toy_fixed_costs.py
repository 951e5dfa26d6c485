"""The toy routes' fixed costs: what they look up is kept in each process under a version
the database bumps on every committed change (a revoked token stops working at once, in
this process and in another); usage counts are batched off the request path, none lost
and none written back after an erasure."""

import os
import re
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import lookups, services, tokens
from devices.models import Consent, Device, DeviceToken
from memories import conversations
from memories.erasure import erasure_start
from memories.models import Erasure, MemoryUsage
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


@pytest.mark.django_db
def test_a_warm_call_reads_one_version_instead_of_the_token_toy_child_and_consent(family, toy, kites):
    assert context(toy, family).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert context(toy, family).json()["items"][0]["id"] == kites.id
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert sum("devices_lookup_version" in sql for sql in reads) == 1
    assert not [sql for sql in reads if TOY_TABLES.search(sql)]


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
def batching():
    conversations.usage_start(interval=3600)  # written only when the test says so
    yield
    conversations.usage_stop()


def test_usage_counts_are_written_in_a_batch_off_the_request_path(family, toy, kites, transactional_db,
                                                                 batching):
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(5):
            assert context(toy, family).json()["items"]
    assert not [q for q in ctx.captured_queries if "memoryusage" in q["sql"]]
    assert not MemoryUsage.objects.exists()
    assert conversations.usage_flush() == 5
    assert MemoryUsage.objects.get(memory_id=kites.id, device=family.device_a).count == 5
    assert context(toy, family).status_code == 200
    conversations.usage_stop()  # a worker's exit writes what waits
    assert MemoryUsage.objects.get(memory_id=kites.id, device=family.device_a).count == 6


def test_counts_of_a_child_erased_since_are_not_written_back(family, toy, kites, transactional_db, batching):
    assert context(toy, family).json()["items"]
    erasure_start(scope=Erasure.Scope.MEMORIES, origin="parent", actor=family.parent_a, child=family.child_a,
                  enqueue=False)
    conversations.usage_flush()
    assert not MemoryUsage.objects.filter(namespace=family.child_a.namespace).exists()
