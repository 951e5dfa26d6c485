"""Micro-batching without a thread of its own: work that callers of one process ask for at
the same moment is done in one pass (one read of the model's weights for several queries, one
read of a child's vectors for several rankings).

The first caller runs its own item and whatever queued meanwhile (the pass releases the GIL,
so the others get to queue). When it is done it hands the next batch to the first caller
still waiting, who runs it in its own thread. A lone caller runs at once, in its own thread:
one client pays no hand-off."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


class _Waiter:
    __slots__ = ("item", "result", "error", "leads", "done")

    def __init__(self, item):
        self.item, self.result, self.error, self.leads = item, None, None, False
        self.done = threading.Event()


class Batcher:
    """``submit(item)`` answers ``run(items)[i]`` for its item, ``run`` called with up to
    ``max_batch`` items at once; an error of ``run`` reaches every caller of that batch."""

    def __init__(self, run: Callable[[list], Sequence], max_batch: int):
        self._run, self.max_batch = run, max_batch
        self._queue: list[_Waiter] = []
        self._lock = threading.Lock()
        self._busy = False  # a caller is running a batch now

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def submit(self, item) -> Any:
        waiter = _Waiter(item)
        with self._lock:
            self._queue.append(waiter)
            leads = not self._busy
            self._busy = True
        if not leads:
            waiter.done.wait()
            leads = waiter.leads
        if leads:
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def _lead(self) -> None:
        """Run the queue's first ``max_batch`` items, answer their callers, then wake the
        next waiting caller to lead the batch after (or stand down)."""
        with self._lock:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
        try:
            results = self._run([w.item for w in batch])
            for w, result in zip(batch, results, strict=True):
                w.result = result
        except BaseException as exc:  # every caller of the batch gets the error
            for w in batch:
                w.error = exc
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].done.set()
                else:
                    self._busy = False
            for w in batch:
                w.done.set()
