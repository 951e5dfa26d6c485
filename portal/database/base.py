"""Django's PostgreSQL backend, with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django checks a kept connection at the first query of every
request with ``SELECT 1``: a round trip on every request, the toy's lookups included. A
connection the server has ended (a restart, ``pg_terminate_backend``, an idle timeout) has
something to read on its socket: the server's last message, or the end of the stream. So the
check first looks at the socket, without waiting: nothing there, the connection is usable;
anything there, Django's own check decides (and reconnects when it fails)."""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (self.connection is not None and self.health_check_enabled and not self.health_check_done
                and not self.pool and quiet(self.connection)):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def quiet(conn) -> bool:
    """The connection is idle and nothing waits to be read on its socket."""
    try:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            return False
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError, psycopg.Error):
        return False
