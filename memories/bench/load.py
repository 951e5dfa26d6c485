"""Bulk loading for the benchmark: Mem0's row layout written with binary COPY (millions of
rows in minutes), and realistic vectors for the other namespaces.

Realistic, not random: an HNSW graph over random Gaussian vectors keeps every namespace far
from a child's queries, so a filtered scan finds the child's rows at once; real memories of
other children crowd the same neighbourhoods. The other namespaces' vectors are MiniLM
embeddings of generated memories of other children (``corpus``), mixed in pairs and jittered
so millions of rows can come from a pool of some thousands of real embeddings."""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)


def realistic_vectors(pool: np.ndarray, n: int, rng: np.random.Generator, *, jitter: float = 0.08) -> np.ndarray:
    """``n`` unit vectors near the pool's: a real embedding, a little of another one, noise."""
    a = pool[rng.integers(0, len(pool), n)]
    b = pool[rng.integers(0, len(pool), n)]
    mix = rng.uniform(0.0, 0.35, (n, 1)).astype(np.float32)
    noise = rng.standard_normal((n, pool.shape[1])).astype(np.float32) * (jitter / np.sqrt(pool.shape[1]))
    out = a * (1 - mix) + b * mix + noise
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def payload(namespace: str, text: str, at: datetime, **metadata) -> dict:
    """Mem0's payload for a memory added with ``infer=False`` (``Memory._create_memory``)."""
    from mem0.utils.lemmatization import lemmatize_for_bm25

    stamp = at.isoformat()
    return {**metadata, "role": "user", "data": text, "hash": hashlib.md5(text.encode()).hexdigest(),
            "created_at": stamp, "updated_at": stamp, "text_lemmatized": lemmatize_for_bm25(text),
            "user_id": namespace}


def _row(memory_id: uuid.UUID, vector: np.ndarray, body: dict) -> bytes:
    doc = b"\x01" + json.dumps(body, separators=(",", ":")).encode()
    vec = struct.pack("!hh", len(vector), 0) + vector.astype(">f4").tobytes()
    return b"".join((struct.pack("!h", 3), struct.pack("!i", 16), memory_id.bytes,
                     struct.pack("!i", len(vec)), vec, struct.pack("!i", len(doc)), doc))


def copy_memories(conn, collection: str, rows: Iterable[tuple[uuid.UUID, np.ndarray, dict]],
                  chunk: int = 4 << 20) -> int:
    """(id, vector, payload) rows into Mem0's table in one binary COPY; how many."""
    count, buffer = 0, [COPY_HEADER]
    size = len(COPY_HEADER)
    with conn.cursor() as cur, cur.copy(f'COPY "{collection}" (id, vector, payload) FROM STDIN WITH (FORMAT BINARY)') as copy:
        for memory_id, vector, body in rows:
            data = _row(memory_id, vector, body)
            buffer.append(data)
            size += len(data)
            count += 1
            if size >= chunk:
                copy.write(b"".join(buffer))
                buffer, size = [], 0
        buffer.append(COPY_TRAILER)
        copy.write(b"".join(buffer))
    return count


def namespace_rows(namespace: str, texts: list[str], vectors: np.ndarray, *, start: datetime | None = None,
                   **metadata) -> Iterator[tuple[uuid.UUID, np.ndarray, dict]]:
    """One namespace's rows, newest first one second apart from ``start``."""
    start = start or datetime.now(UTC)
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        yield uuid.uuid4(), vector, payload(namespace, text, start - timedelta(seconds=i), **metadata)


def copy_history(conn, history_table: str, rows: Iterable[tuple[str, str, str, datetime]]) -> None:
    """Mem0's ADD history rows (memory id, namespace, text, when) for bulk-loaded memories."""
    with conn.cursor() as cur, cur.copy(
            f'COPY "{history_table}" (id, memory_id, user_id, new_memory, event, created_at, updated_at, role) '
            "FROM STDIN") as copy:
        for memory_id, namespace, text, at in rows:
            copy.write_row((uuid.uuid4(), memory_id, namespace, text, "ADD", at, at, "user"))
