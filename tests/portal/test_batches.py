"""portal.batches: entries written at once outside a web server; in one, held and written by
the batch (every interval, ``flush``, ``stop``), a failed write kept for the next round with
what came meanwhile merged on top."""

from portal import batches


def test_held_while_batching_and_a_failed_write_is_kept_for_the_next_round():
    written, failing = [], []

    def write(entries):
        if failing:
            failing.pop()
            raise OSError("the database is down")
        written.append(list(entries))

    batch = batches.Batch("test entries", write)
    try:
        batch.add([0])
        assert written == [[0]]  # not batching: at once
        batches.start(interval=3600)
        batch.add([1])
        assert written == [[0]]
        failing.append(True)
        assert batch.flush() == 0  # failed: kept
        batch.add([2])
        assert batch.flush() == 2 and written[-1] == [1, 2]
        batch.add([3])
        batches.stop()  # a worker's exit writes what waits
        assert written[-1] == [3]
        batch.add([4])
        assert written[-1] == [4]  # stopped: at once again
    finally:
        batches.stop()
        batches._batches.remove(batch)
