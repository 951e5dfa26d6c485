"""Shared fixtures: fixed personas built through the services, the real Mem0 gateway on
the test database, and a real Celery worker process for asynchronous behaviour."""

import itertools
import os
import secrets
import time
from datetime import date

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group, User

from devices import consent, services
from memories import gateway as gateway_module
from portal.access import ADMIN_GROUP, SUPPORT_GROUP
from portal.processes import CeleryWorker

PASSWORD = "correct-horse-battery-9"
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the test staff's authenticator app
_macs = itertools.count(1)


def unique_mac() -> str:
    """A MAC no other test uses: Mem0's tables are shared by the whole session."""
    n = (os.getpid() << 20) + next(_macs)
    raw = f"{n:012x}"[-12:]
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


@pytest.fixture(scope="session", autouse=True)
def _mem0_on_test_database(django_db_setup, django_db_blocker):
    """Mem0's tables live in the test database; start each session from empty ones and
    close Mem0's pool before the test database is dropped. When no test of the session
    uses the database there is none: then nothing is touched (not the developer's)."""
    from django.db import connection

    if connection.settings_dict["NAME"] != connection.settings_dict["TEST"]["NAME"]:
        yield None
        return
    with django_db_blocker.unblock():
        gw = gateway_module.LocalGateway()
        gateway_module.reset_for_tests(gw)
        with gw._cursor(commit=True) as cur:
            cur.execute("TRUNCATE " + ", ".join(f'"{table}"' for table in gw.tables))
    yield gw
    gw.close()
    gateway_module.reset_for_tests(None)


@pytest.fixture(autouse=True)
def _lookups_follow_the_test(request):
    """The toy routes' lookup cache (devices.lookups) starts empty, and in a test that runs
    inside a transaction the version triggers fire at once instead of at a commit that never
    comes."""
    from devices import lookups

    lookups.clear()
    marker = request.node.get_closest_marker("django_db")
    in_transaction = ("db" in request.fixturenames or marker is not None) and not (
        "transactional_db" in request.fixturenames or (marker is not None and marker.kwargs.get("transaction")))
    if in_transaction:
        from django.db import connection

        request.getfixturevalue("db")
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS lookup_version_write, lookup_version_update IMMEDIATE")
    yield
    lookups.clear()


@pytest.fixture
def gw(_mem0_on_test_database, db):
    """The session's local gateway (``db``: so the session has a test database)."""
    return _mem0_on_test_database


def make_user(email: str, *, group: str | None = None, superuser: bool = False) -> User:
    user = User.objects.create_user(username=email, email=email, password=PASSWORD)
    if group:
        Group.objects.get_or_create(name=group)[0].user_set.add(user)
    if superuser:
        user.is_staff = user.is_superuser = True
        user.save()
    if group or superuser:  # staff work only with a second factor (portal.access)
        TOTP.activate(user, STAFF_TOTP_SECRET)
    return user


def totp_code(secret: str = STAFF_TOTP_SECRET) -> str:
    """The authenticator app's current code for ``secret``."""
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def grant_consent(child, parent, verifier):
    """Verified consent to every purpose this portal asks for, as support's approval
    of a signed form records it."""
    consent.consent_record(child=child, purposes=consent.offered_purposes(), signer_name=parent.email,
                           granted_by=parent, method=consent.SignedForm.key, verified_by=verifier)


class Family:
    """Household A (two parents, a child with a toy), household B (one parent, a child
    with a toy), a support agent and an admin."""

    def __init__(self):
        self.parent_a = make_user("parent.a@example.test")
        self.parent_a2 = make_user("parent.a2@example.test")
        self.parent_b = make_user("parent.b@example.test")
        self.support = make_user("support@example.test", group=SUPPORT_GROUP)
        self.admin = make_user("admin@example.test", group=ADMIN_GROUP, superuser=True)
        self.agent = services.agent_save(actor=self.admin, name=f"Buddy {secrets.token_hex(3)}",
                                         system_prompt="You are Buddy.\n{{child_profile}}",
                                         memory_prompt="Keep interests and friends' first names.")
        self.household_a = services.household_create(name="Family A", owner=self.parent_a)
        self.household_a.memberships.create(user=self.parent_a2)
        self.household_b = services.household_create(name="Family B", owner=self.parent_b)
        self.child_a = services.child_create(actor=self.parent_a, household=self.household_a, name="Rahul",
                                             birth_date=date(2017, 5, 10), gender="male",
                                             interests=["games", "sports", "science"])
        self.child_b = services.child_create(actor=self.parent_b, household=self.household_b, name="Mia",
                                             birth_date=date(2019, 1, 2))
        for child, parent in ((self.child_a, self.parent_a), (self.child_b, self.parent_b)):
            grant_consent(child, parent, self.support)
        self.device_a = services.device_register(actor=self.parent_a, household=self.household_a,
                                                 mac=unique_mac(), name="Robot A", child=self.child_a,
                                                 agent=self.agent)
        self.device_b = services.device_register(actor=self.parent_b, household=self.household_b,
                                                 mac=unique_mac(), name="Robot B", child=self.child_b,
                                                 agent=self.agent)


@pytest.fixture
def family(db):
    return Family()


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


# -- a real Celery worker --------------------------------------------------------------

@pytest.fixture(scope="session")
def worker_queue():
    from portal.celery import app

    queue = f"test-{os.getpid()}-{secrets.token_hex(3)}"
    app.conf.task_default_queue = queue
    return queue


@pytest.fixture(scope="session")
def _session_worker(worker_queue, django_db_setup, django_db_blocker):
    worker = CeleryWorker(worker_queue)
    yield worker
    worker.stop()


@pytest.fixture
def worker(_session_worker, transactional_db):
    """The session's real worker (one process, started once); data must be committed."""
    assert _session_worker.alive, "\n".join(_session_worker.lines[-30:])
    return _session_worker


@pytest.fixture
def start_worker(worker_queue, transactional_db):
    """Workers of this test only, on a private queue (e.g. one whose Mem0 is down)."""
    from portal.celery import app

    queue = f"private-{secrets.token_hex(4)}"
    app.conf.task_default_queue = queue
    started = []

    def _start(**extra_env):
        worker = CeleryWorker(queue, extra_env)
        started.append(worker)
        return worker

    yield _start
    for worker in started:
        worker.stop()
    app.conf.task_default_queue = worker_queue


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    """Poll until ``predicate()`` is truthy; return its value or fail with a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
