"""One profile memory per child, always: two profile pushes for the same child racing (two
queue rows on two workers, e.g. right after set-up) must not create two."""

import threading

import pytest
from django.db import connection

from devices.models import ChildProfile
from memories import sync
from memories.gateway import PROFILE_KIND


@pytest.mark.django_db(transaction=True)
def test_two_pushes_racing_leave_one_profile_memory(family, gw, monkeypatch):
    listed, both_listed = [], threading.Event()
    original = sync._profile_memories

    def list_then_wait_for_the_other(namespace):
        found = original(namespace)
        listed.append(namespace)
        if len(listed) == 2:
            both_listed.set()
        both_listed.wait(timeout=3)  # without the lock, both have listed before either adds
        return found

    monkeypatch.setattr(sync, "_profile_memories", list_then_wait_for_the_other)
    errors = []

    def push():
        try:
            sync.child_push(ChildProfile.objects.get(pk=family.child_a.pk))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    profiles = [m for m in gw.list([family.child_a.namespace]).items if m.kind == PROFILE_KIND]
    assert len(profiles) == 1, [p.id for p in profiles]


@pytest.mark.django_db(transaction=True)
def test_the_lock_is_per_child_and_released_after_a_failure(family, gw, monkeypatch):
    def broken(namespace):
        raise RuntimeError("Mem0 said no")

    monkeypatch.setattr(sync, "_profile_memories", broken)
    with pytest.raises(RuntimeError):
        sync.child_push(family.child_a)
    monkeypatch.undo()
    with connection.cursor() as cursor:  # another session can take the child's lock: it was released
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                       [sync.PROFILE_LOCK])
        assert cursor.fetchone()[0] == 0
    sync.child_push(family.child_a)
    sync.child_push(family.child_b)
    for child in (family.child_a, family.child_b):
        assert len([m for m in gw.list([child.namespace]).items if m.kind == PROFILE_KIND]) == 1
