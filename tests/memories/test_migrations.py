"""The move from toy namespaces (a MAC) to child namespaces, run as an upgrade would run it:
a database at the old schema with the old data, then ``manage.py migrate``."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from portal.processes import database_url

BASE_DIR = Path(__file__).resolve().parents[2]
BOUND, UNBOUND, GONE, RESETTING = "aa:00:00:00:00:01", "aa:00:00:00:00:02", "aa:00:00:00:00:03", "aa:00:00:00:00:04"


def _migrate(url: str, *targets: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": "memory://", "SECRET_KEY": "x" * 50}
    for target in targets or ("",):
        result = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", *target.split()],
                                cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


@pytest.fixture
def old_database(django_db_blocker):
    """A fresh database on the test server, migrated to the schema before child namespaces."""
    name = f"test_upgrade_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        admin_url = database_url()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.replace(f"/{connection.settings_dict['NAME']}", f"/{name}", 1)
    try:
        _migrate(url, "devices 0001", "memories 0001", "portal", "auth", "contenttypes", "sessions", "admin")
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed_old_world(url: str) -> dict:
    """Two toys of Rahul (one linked, one moved away and awaiting its reset), an unlinked toy,
    and memories under a MAC whose toy was deleted — as Mem0 kept them before."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        db.execute('CREATE TABLE IF NOT EXISTS "memories" (id uuid PRIMARY KEY, vector vector(384), payload jsonb)')
        db.execute("INSERT INTO devices_household (name, created_at) VALUES ('Family A', now())")
        household = db.execute("SELECT id FROM devices_household").fetchone()[0]
        db.execute("INSERT INTO devices_childprofile (household_id, name, birth_date, gender, interests, toy_note, "
                   "memory_paused, created_at, updated_at) VALUES (%s, 'Rahul', '2017-05-10', '', '[]', '', false, "
                   "now(), now())", [household])
        child = db.execute("SELECT id FROM devices_childprofile").fetchone()[0]
        ids = {}
        for mac, linked, resetting in ((BOUND, True, False), (UNBOUND, False, False), (RESETTING, True, True)):
            db.execute("INSERT INTO devices_device (mac, name, household_id, child_id, memory_reset_pending, "
                       "created_at) VALUES (%s, '', %s, %s, %s, now())",
                       [mac, household, child if linked else None, resetting])
        for mac in (BOUND, UNBOUND, GONE, RESETTING):
            ids[mac] = str(uuid.uuid4())
            payload = {"data": f"memory of {mac}", "user_id": mac, "created_at": "2026-01-01T00:00:00+00:00"}
            db.execute('INSERT INTO "memories" (id, vector, payload) VALUES (%s, %s, %s)',
                       [ids[mac], "[" + ",".join(["0.1"] * 384) + "]", json.dumps(payload)])
            db.execute("INSERT INTO memories_memorychange (memory_id, namespace, event, actor_role, created_at) "
                       "VALUES (%s, %s, 'ADD', 'toy', now())", [ids[mac], mac])
        bound = db.execute("SELECT id FROM devices_device WHERE mac = %s", [BOUND]).fetchone()[0]
        db.execute("INSERT INTO memories_conversation (device_id, idempotency_key, messages, state, drop_reason, "
                   "memories_added, attempts, last_error, created_at, updated_at) VALUES (%s, '', '[]', 'pending', "
                   "'', 0, 0, '', now(), now())", [bound])
        db.execute("INSERT INTO memories_memoryusage (memory_id, device_id, count, last_used_at) "
                   "VALUES (%s, %s, 2, now())", [ids[BOUND], bound])
    return {"ids": ids, "child": child}


@pytest.mark.django_db
def test_upgrade_moves_linked_toys_memories_to_the_child_and_erases_the_rest(old_database):
    seeded = _seed_old_world(old_database)
    _migrate(old_database)
    with psycopg.connect(old_database) as db:
        key = db.execute("SELECT memory_key FROM devices_childprofile WHERE id = %s", [seeded["child"]]).fetchone()[0]
        namespace = f"child_{key.hex}"
        rows = dict(db.execute("SELECT id::text, payload FROM \"memories\"").fetchall())
        changes = db.execute("SELECT memory_id, namespace FROM memories_memorychange").fetchall()
        conversation_child = db.execute("SELECT child_id FROM memories_conversation").fetchone()[0]
        usage = db.execute("SELECT namespace FROM memories_memoryusage").fetchall()
        queued = db.execute("SELECT child_id FROM devices_profilesync").fetchall()
        columns = {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'devices_device'")}
    assert set(rows) == {seeded["ids"][BOUND]}  # unlinked, resetting and deleted toys: erased
    moved = rows[seeded["ids"][BOUND]]
    assert moved["user_id"] == namespace and moved["data"] == f"memory of {BOUND}" and moved["device_id"]
    assert changes == [(seeded["ids"][BOUND], namespace)]
    assert conversation_child == seeded["child"] and usage == [(namespace,)]
    assert queued == [(seeded["child"],)]  # the one profile memory is rewritten in its new namespace
    assert "memory_reset_pending" not in columns
