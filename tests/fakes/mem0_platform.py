"""A stand-in for the Mem0 Platform: a real HTTP server on 127.0.0.1 (ephemeral port).

It answers exactly the requests ``mem0.MemoryClient`` 2.2.1 makes for what the portal
uses (paths, bodies and answers from ``mem0/client/main.py`` and the Platform's API
reference), keeping memories in memory:

    GET    /v1/ping/                         key check the client does when built
    POST   /v3/memories/add/                 user_id at the top level; answers PENDING + event_id
    GET    /v1/event/{id}/                   the add's event: status and add results
    POST   /v3/memories/?page=&page_size=    filters (AND/OR/in/*) naming an entity; DRF paging
    POST   /v3/memories/search/              filters, top_k, threshold; scored results
    GET    /v1/memories/{id}/                404 when unknown
    PUT    /v1/memories/{id}/                text and/or the WHOLE metadata
    DELETE /v1/memories/{id}/
    DELETE /v1/memories/?user_id=            refuses to run without an entity
    GET    /v1/entities/                     every entity of the project (``results``, as
                                             ``MemoryClient.delete_users`` reads it)
    DELETE /v2/entities/{type}/{name}/       an entity and its memories; 404 when unknown
    GET    /v1/memories/{id}/history/
    POST   /v1/feedback/
    PUT    /v1/batch/                        up to 1000 updates

An entity (a ``user_id``…) exists from its first memory on and stays, with its name, after
its memories are deleted, until it is deleted itself. Every request needs
``Authorization: Token <api_key>`` (401 otherwise). ``unavailable``
makes every answer a 503. There is no LLM: ``infer=True`` keeps each user message as one
memory and records the call's ``custom_instructions`` on its event. Times advance one
second per write and are given to the second with an offset, as the Platform lists them;
a listing is newest first, and within one second not in the order of writing.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ENTITIES = ("user_id", "agent_id", "app_id", "run_id")
MAX_PAGE_SIZE = 200
PACIFIC = timezone(timedelta(hours=-7))


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    body: object
    headers: dict


class HttpError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status, self.body = status, body


def _names_entity(condition) -> bool:
    if isinstance(condition, list):
        return any(_names_entity(c) for c in condition)
    return isinstance(condition, dict) and any(k in ENTITIES or _names_entity(v) for k, v in condition.items())


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


class FakeMem0Platform:
    def __init__(self, api_key: str = "m0-test-key"):
        self.api_key = api_key
        self.memories: dict[str, dict] = {}
        self.histories: dict[str, list[dict]] = {}
        self.events: dict[str, dict] = {}
        self.entities: dict[tuple[str, str], dict] = {}  # (type, name) -> entity
        self.feedback: list[dict] = []
        self.requests: list[Seen] = []
        self.unavailable = False
        self.pending_polls = 0  # an add's event answers PENDING to this many polls first
        self._clock = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    # -- life ------------------------------------------------------------------------
    def start(self) -> FakeMem0Platform:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                fake._connections.add(self.connection)

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = fake.handle(self.command, self.path, raw, dict(self.headers))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections: the Platform is gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def seen(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- dispatch --------------------------------------------------------------------
    def handle(self, method: str, target: str, raw: bytes, headers: dict) -> tuple[int, object]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(Seen(method, parts.path, query, body, headers))
            if self.unavailable:
                return 503, {"detail": "Service temporarily unavailable."}
            if headers.get("Authorization") != f"Token {self.api_key}":
                return 401, {"detail": "Invalid token."}
            try:
                return 200, self._route(method, parts.path, query, body or {})
            except HttpError as exc:
                return exc.status, exc.body

    def _route(self, method: str, path: str, query: dict, body: dict):
        one = re.fullmatch(r"/v1/memories/([^/]+)/", path)
        routes = {
            ("GET", "/v1/ping/"): lambda: {"status": "ok", "org_id": "org_fake", "project_id": "proj_fake",
                                           "user_email": "tests@example.com"},
            ("POST", "/v3/memories/add/"): lambda: self._add(body),
            ("POST", "/v3/memories/"): lambda: self._list(query, body),
            ("POST", "/v3/memories/search/"): lambda: self._search(body),
            ("DELETE", "/v1/memories/"): lambda: self._delete_all(query),
            ("POST", "/v1/feedback/"): lambda: self._feedback(body),
            ("PUT", "/v1/batch/"): lambda: self._batch_update(body),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if match := re.fullmatch(r"/v1/event/([^/]+)/", path):
            return self._event(match[1]) if method == "GET" else self._no_route()
        if method == "GET" and path == "/v1/entities/":
            return self._entities()
        if match := re.fullmatch(r"/v2/entities/([^/]+)/([^/]+)/", path):
            return self._delete_entity(match[1], unquote(match[2])) if method == "DELETE" else self._no_route()
        if match := re.fullmatch(r"/v1/memories/([^/]+)/history/", path):
            return self._history(match[1]) if method == "GET" else self._no_route()
        if one and method == "GET":
            return self._shown(self._memory(one[1]))
        if one and method == "PUT":
            return self._update(one[1], body)
        if one and method == "DELETE":
            return self._delete(one[1])
        return self._no_route()

    @staticmethod
    def _no_route():
        raise HttpError(404, {"detail": "Not found."})

    # -- store -----------------------------------------------------------------------
    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.astimezone(PACIFIC).isoformat(timespec="seconds")

    def _memory(self, memory_id: str) -> dict:
        if memory_id not in self.memories:
            raise HttpError(404, {"error": "Memory not found!"})
        return self.memories[memory_id]

    @staticmethod
    def _shown(memory: dict, **extra) -> dict:
        return {**memory, "metadata": dict(memory["metadata"] or {}) or None, **extra}

    def _log(self, memory: dict, event: str, old: str | None, new: str | None, at: str) -> None:
        self.histories.setdefault(memory["id"], []).append({
            "id": str(uuid.uuid4()), "memory_id": memory["id"], "input": [], "old_memory": old,
            "new_memory": new, "user_id": memory["user_id"], "event": event, "metadata": memory["metadata"],
            "created_at": at, "updated_at": at,
        })

    def seed(self, user_id: str, text: str, metadata: dict | None = None, *, at: str | None = None) -> dict:
        """Store a memory as another writer would have (a toy server, an import with its
        own ``at``)."""
        at = at or self._tick()
        memory = {"id": str(uuid.uuid4()), "memory": text, "user_id": user_id, "agent_id": None, "app_id": None,
                  "run_id": None, "metadata": dict(metadata or {}), "categories": [], "immutable": False,
                  "expiration_date": None, "created_at": at, "updated_at": at}
        self.memories[memory["id"]] = memory
        self._log(memory, "ADD", None, text, at)
        self.entities.setdefault(("user", user_id), {
            "id": str(uuid.uuid4()), "name": user_id, "type": "user", "created_at": at, "updated_at": at,
            "owner": "tests@example.com", "organization": "org_fake", "metadata": {}})
        return memory

    # -- endpoints -------------------------------------------------------------------
    def _add(self, body: dict) -> dict:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not any(body.get(e) for e in ENTITIES):
            raise HttpError(400, {"error": "400 Bad Request",
                                  "details": {"message": "messages and an entity id are required"}})
        infer = body.get("infer", True)
        kept = [m["content"] for m in messages if not infer or m.get("role") == "user"]
        added = [self.seed(body["user_id"], text, body.get("metadata")) for text in kept]
        event_id = str(uuid.uuid4())
        self.events[event_id] = {
            "id": event_id, "event_type": "ADD", "payload": body, "metadata": {}, "polls": 0,
            "results": [{"id": m["id"], "event": "ADD", "data": {"memory": m["memory"]}} for m in added],
        }
        return {"message": "Memory processing has been queued for background execution", "status": "PENDING",
                "event_id": event_id}

    def _event(self, event_id: str) -> dict:
        if event_id not in self.events:
            raise HttpError(404, {"detail": "Event not found."})
        event = self.events[event_id]
        event["polls"] += 1
        done = event["polls"] > self.pending_polls
        shown = {k: v for k, v in event.items() if k != "polls"}
        return {**shown, "status": "SUCCEEDED" if done else "PENDING", "results": event["results"] if done else []}

    def _matches(self, memory: dict, condition: dict) -> bool:
        for field, wanted in condition.items():
            if field == "AND" and not all(self._matches(memory, c) for c in wanted):
                return False
            if field == "OR" and not any(self._matches(memory, c) for c in wanted):
                return False
            if field in ("AND", "OR"):
                continue
            if field not in ENTITIES:
                raise HttpError(400, {"detail": f"this fake does not filter on {field}"})
            actual = memory.get(field)
            if isinstance(wanted, dict):
                if set(wanted) != {"in"}:
                    raise HttpError(400, {"detail": f"this fake reads only the in operator: {wanted}"})
                if actual not in wanted["in"]:
                    return False
            elif wanted == "*":
                if actual is None:
                    return False
            elif actual != wanted:
                return False
        return True

    def _selected(self, body: dict) -> list[dict]:
        if any(e in body for e in ENTITIES):
            raise HttpError(400, {"detail": "Top-level entity parameters are not supported; use filters."})
        filters = body.get("filters")
        if not _names_entity(filters):
            raise HttpError(400, {"detail": "filters must name at least one entity id"})
        chosen = [m for m in self.memories.values() if self._matches(m, filters)]
        chosen.sort(key=lambda m: m["memory"])  # within one second: not the order of writing
        return sorted(chosen, key=lambda m: datetime.fromisoformat(m["created_at"]), reverse=True)

    def _list(self, query: dict, body: dict) -> dict:
        page, size = int(query.get("page", 1)), int(query.get("page_size", 100))
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise HttpError(400, {"detail": f"page_size must be between 1 and {MAX_PAGE_SIZE}"})
        chosen = self._selected(body)
        pages = max(1, -(-len(chosen) // size))
        if page > pages:
            raise HttpError(404, {"detail": "Invalid page."})
        link = f"{self.url}/v3/memories/?page={{}}&page_size={size}"
        return {"count": len(chosen), "next": link.format(page + 1) if page < pages else None,
                "previous": link.format(page - 1) if page > 1 else None,
                "results": [self._shown(m) for m in chosen[(page - 1) * size : page * size]]}

    def _search(self, body: dict) -> dict:
        query, top_k, threshold = body.get("query"), body.get("top_k", 10), body.get("threshold", 0.1)
        if not isinstance(query, str) or not query.strip() or not 1 <= top_k <= 1000:
            raise HttpError(400, {"detail": "a query and a top_k in 1..1000 are required"})
        scored = []
        for memory in self._selected(body):
            words, asked = _words(memory["memory"]), _words(query)
            score = round(0.05 + 0.9 * len(words & asked) / max(1, len(words | asked)), 4)
            if score >= threshold:
                scored.append(self._shown(memory, score=score))
        scored.sort(key=lambda m: m["score"], reverse=True)
        return {"results": scored[:top_k]}

    def _update(self, memory_id: str, body: dict) -> dict:
        memory = self._memory(memory_id)
        at, old = self._tick(), memory["memory"]
        if "text" in body:
            memory["memory"] = body["text"]
        if "metadata" in body:
            memory["metadata"] = dict(body["metadata"] or {})
        memory["updated_at"] = at
        self._log(memory, "UPDATE", old, memory["memory"], at)
        return self._shown(memory)

    def _delete(self, memory_id: str) -> dict:
        memory = self.memories.pop(self._memory(memory_id)["id"])
        self._log(memory, "DELETE", memory["memory"], None, self._tick())
        return {"message": "Memory deleted successfully!"}

    def _delete_all(self, query: dict) -> dict:
        scope = {e: query[e] for e in ENTITIES if query.get(e)}
        if not scope:
            raise HttpError(400, {"detail": "At least one filter is required to delete all memories."})
        for memory in [m for m in self.memories.values() if self._matches(m, scope)]:
            self._delete(memory["id"])
        return {"message": "Memories deleted successfully!"}

    def _entities(self) -> dict:
        shown = [{**entity, "total_memories": sum(1 for m in self.memories.values()
                                                  if m.get(f"{entity['type']}_id") == entity["name"])}
                 for entity in self.entities.values()]
        return {"count": len(shown), "results": shown}

    def _delete_entity(self, kind: str, name: str) -> dict:
        if (kind, name) not in self.entities:
            raise HttpError(404, {"detail": "Entity not found."})
        for memory in [m for m in self.memories.values() if m.get(f"{kind}_id") == name]:
            self._delete(memory["id"])
        del self.entities[(kind, name)]
        return {"message": "Entity deleted successfully!"}

    def _history(self, memory_id: str) -> list:
        if memory_id not in self.histories:
            raise HttpError(404, {"error": "Memory not found!"})
        return self.histories[memory_id]

    def _feedback(self, body: dict) -> dict:
        self._memory(body.get("memory_id", ""))
        if body.get("feedback") not in (None, "POSITIVE", "NEGATIVE", "VERY_NEGATIVE"):
            raise HttpError(400, {"detail": "Invalid feedback."})
        self.feedback.append(body)
        return {"id": str(uuid.uuid4()), "feedback": body["feedback"], "feedback_reason": body.get("feedback_reason")}

    def _batch_update(self, body: dict) -> dict:
        items = body.get("memories") or []
        if not 1 <= len(items) <= 1000:
            raise HttpError(400, {"detail": "Between 1 and 1000 memories per batch."})
        for item in items:
            self._memory(item["memory_id"])
        for item in items:
            self._update(item["memory_id"], {k: v for k, v in item.items() if k in ("text", "metadata")})
        return {"message": f"Successfully updated {len(items)} memories"}
