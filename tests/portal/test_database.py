"""The kept database connection's health check (``portal.database``): no round trip while
the connection is quiet, and a connection the server ended is replaced before the request's
first query, so that request is answered."""

import select

import psycopg
import pytest
from django.db import connection

from memories.gateway import LocalGateway

pytestmark = pytest.mark.django_db(transaction=True)


def next_request():
    """What Django does between two requests: the kept connection is checked again at the
    next request's first query."""
    connection.close_if_unusable_or_obsolete()
    assert connection.connection is not None and not connection.health_check_done


def checks(monkeypatch) -> list:
    calls = []
    real = connection.is_usable

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def test_a_quiet_connection_is_used_without_a_select_1(monkeypatch):
    connection.ensure_connection()
    next_request()
    calls = checks(monkeypatch)
    with connection.cursor() as cur:
        cur.execute("SELECT 2")
        assert cur.fetchone() == (2,)
    assert calls == [] and connection.health_check_done


def test_a_connection_the_server_ended_is_replaced_before_the_first_query(monkeypatch):
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    next_request()
    with psycopg.connect(LocalGateway.django_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    assert poller.poll(5000)  # the server's goodbye arrived
    calls = checks(monkeypatch)
    with connection.cursor() as cur:  # would raise "terminating connection" without the check
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] != pid
    assert calls == [1]
