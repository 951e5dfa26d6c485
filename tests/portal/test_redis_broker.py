"""Celery on a Redis broker, as the README says (``CELERY_BROKER_URL=redis://…``): a web
process enqueues a profile push, a real worker takes it from Redis and Mem0 has the profile.

Starts Debian's ``redis-server`` on a free 127.0.0.1 port with a temp dir, and stops it.
Skipped where it is not installed (``apt-get install redis-server``), except when
``PORTAL_REQUIRE_REDIS=1`` (CI): then a missing server is a failure."""

import os
import secrets
import shutil
import socket
import subprocess
import sys

import pytest
from django.conf import settings

from devices.profile import profile_text
from devices.selectors import child_namespaces
from memories.gateway import PROFILE_KIND, ListFilter
from portal.processes import CeleryWorker, database_url
from tests.conftest import wait_for

pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        message = "redis-server is not installed: apt-get install redis-server"
        if os.environ.get("PORTAL_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    import redis

    port = _free_port()
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp_path), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--logfile", str(tmp_path / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)

    def up():
        assert process.poll() is None, (tmp_path / "redis.log").read_text()
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    try:
        wait_for(up, timeout=30, interval=0.1)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=20)


def test_a_profile_push_goes_through_redis_to_a_real_worker(redis_url, family, gw, transactional_db):
    import redis

    queue = f"redis-{secrets.token_hex(4)}"
    env = {"CELERY_BROKER_URL": redis_url, "CELERY_QUEUE": queue}
    worker = CeleryWorker(queue, env)
    try:
        # The web side, configured the same way, in its own process: the child's profile is saved.
        web = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from devices import services; from devices.models import ChildProfile; "
             f"child = ChildProfile.objects.get(pk={family.child_a.pk}); "
             f"services.child_update(actor=child.household.memberships.first().user, child=child, "
             "interests=['volcanoes', 'kites'])"],
            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300,
            env={**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY, **env})
        assert web.returncode == 0, web.stderr[-3000:]
        family.child_a.refresh_from_db()
        expected = profile_text(family.child_a)
        assert "volcanoes" in expected

        def pushed():
            assert worker.alive, "\n".join(worker.lines[-30:])
            items = gw.list(child_namespaces(family.child_a), flt=ListFilter(kinds=(PROFILE_KIND,))).items
            return [m.text for m in items] == [expected]

        # The worker listens on Redis only (its banner says so): the push can only have come that way.
        port = redis_url.rsplit(":", 1)[1].split("/")[0]
        banner = [line for line in worker.lines if ".> transport:" in line]
        assert banner and banner[0].split("transport:")[1].strip().endswith(f"@127.0.0.1:{port}/0"), banner
        assert banner[0].split("transport:")[1].strip().startswith("redis://"), banner
        wait_for(pushed, timeout=120)
        # The worker logs the task's success after the task has written: read until that line comes.
        wait_for(lambda: any("Task memories.tasks." in line and "succeeded" in line for line in worker.lines),
                 timeout=30)
        assert redis.Redis.from_url(redis_url).llen(queue) == 0  # taken from Redis's queue, nothing left
    finally:
        worker.stop()
