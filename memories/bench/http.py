"""A small HTTP/1.1 load generator on asyncio (keep-alive connections, raw sockets): cheap
in CPU, so on a 2-core machine the server under test keeps the cores. Both sides of every
comparison (the portal's routes, bare Mem0 behind the same gunicorn) go through it.

* ``closed_loop``: ``clients`` connections, each sends its next request when the last one
  answered (the "32 concurrent clients" figures);
* ``open_loop``: requests start on a fixed schedule (``rate`` per second) whatever the
  answers do, on as many connections as that needs; each latency is counted from the moment
  its request was due, so queueing shows (no coordinated omission)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Request = tuple[str, str, bytes | None]  # method, path with query, JSON body


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: dict[int, object] = field(default_factory=dict)  # request index → parsed JSON, when kept
    elapsed: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        values = sorted(self.latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class _Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, request: Request) -> tuple[int, bytes]:
        method, path, body = request
        if self.writer is None:
            await self.open()
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body is not None else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + (body or b""))
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _base(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or 80


async def _one(conn: _Connection, request: Request, result: Result, keep: bool, due: float, index: int = 0) -> None:
    try:
        status, payload = await conn.send(request)
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        conn.close()
        result.errors += 1
        return
    result.statuses[status] = result.statuses.get(status, 0) + 1
    if status != 200:
        result.errors += 1
        return
    result.latencies.append(time.perf_counter() - due)
    if keep:
        result.bodies[index] = json.loads(payload)


def closed_loop(base_url: str, requests: list[Request], *, clients: int, headers: dict[str, str],
                keep_bodies: bool = False) -> Result:
    """Every request once, ``clients`` at a time."""

    async def run() -> Result:
        host, port = _base(base_url)
        result, queue = Result(), list(reversed(list(enumerate(requests))))

        async def client():
            conn = _Connection(host, port, headers)
            while queue:
                index, request = queue.pop()
                await _one(conn, request, result, keep_bodies, time.perf_counter(), index)
            conn.close()

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        result.elapsed = time.perf_counter() - start
        return result

    return asyncio.run(run())


def open_loop(base_url: str, requests: list[Request], *, rate: float, headers: dict[str, str],
              max_in_flight: int = 512) -> Result:
    """``requests`` started at ``rate`` per second, on schedule (more connections when every
    open one is busy, up to ``max_in_flight``; past that a request counts as an error)."""

    async def run() -> Result:
        host, port = _base(base_url)
        result, idle, tasks = Result(), [], []
        busy = 0

        async def fire(request: Request, due: float):
            nonlocal busy
            conn = idle.pop() if idle else _Connection(host, port, headers)
            busy += 1
            await _one(conn, request, result, False, due)
            busy -= 1
            idle.append(conn)

        start = time.perf_counter()
        for i, request in enumerate(requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if busy >= max_in_flight:
                result.errors += 1
                continue
            tasks.append(asyncio.ensure_future(fire(request, due)))
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - start
        for conn in idle:
            conn.close()
        return result

    return asyncio.run(run())


def wait_until_up(url: str, *, timeout: float = 180, alive: Callable[[], bool] = lambda: True) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server exited")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def one_by_one(calls: list[tuple[str, Request, dict[str, str]]]) -> list[float | None]:
    """Each call after the last one answered, one kept-alive connection per server: the
    one-client latencies (None for a failed call), in order."""

    async def run() -> list[float | None]:
        conns: dict[tuple, _Connection] = {}
        out: list[float | None] = []
        for base_url, request, headers in calls:
            key = (base_url, tuple(sorted(headers.items())))
            if key not in conns:
                conns[key] = _Connection(*_base(base_url), headers)
            result = Result()
            await _one(conns[key], request, result, False, time.perf_counter())
            out.append(result.latencies[0] if result.latencies else None)
        for conn in conns.values():
            conn.close()
        return out

    return asyncio.run(run())
