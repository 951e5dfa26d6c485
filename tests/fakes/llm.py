"""A stand-in for an OpenAI-compatible LLM: a real HTTP server on 127.0.0.1 (ephemeral port).

It answers ``POST /v1/chat/completions`` the way OpenAI does, and only the call mem0 2.2.1
makes for extraction (``Memory.add(infer=True)``): a system prompt, then a user prompt with
``## New Messages`` (``user: …`` / ``assistant: …`` lines) and, when a memory prompt was
given, ``## Custom Instructions``. The reply's content is the JSON mem0 parses:
``{"memory": [{"id": "0", "text": "…", "attributed_to": "user"}]}``.

Facts are derived deterministically: one per user line, ``"<content>"`` with the speaker
named ("User says: …"). When the custom instructions say "never keep" addresses, phone
numbers or school names, user lines about those are left out, so a test can see that the
memory prompt reached the LLM and changed the outcome. Every request body is recorded
(``requests``); ``status`` makes every answer that HTTP error instead (an LLM that is down).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRIVATE_TOPICS = {
    "address": ("street", "address", "live at", "road", "avenue"),
    "phone": ("phone", "mobile", "call me at"),
    "school": ("school",),
}


def new_messages(user_prompt: str) -> list[tuple[str, str]]:
    """(role, content) of the ``## New Messages`` section of mem0's user prompt."""
    match = re.search(r"## New Messages\n(.*?)\n\n## ", user_prompt, re.S)
    lines = []
    for line in (match.group(1) if match else "").splitlines():
        role, sep, content = line.partition(": ")
        if sep and role in ("user", "assistant", "system"):
            lines.append((role, content.strip()))
    return lines


def custom_instructions(user_prompt: str) -> str:
    match = re.search(r"## Custom Instructions\n(.*?)(?:\n\n## |\n\n# Output:|$)", user_prompt, re.S)
    return match.group(1).strip() if match else ""


def forbidden_words(instructions: str) -> tuple[str, ...]:
    never = instructions.lower().partition("never")[2]
    return tuple(word for topic, words in PRIVATE_TOPICS.items() if topic in never for word in words)


def extract(user_prompt: str) -> list[dict]:
    skip = forbidden_words(custom_instructions(user_prompt))
    facts = []
    for role, content in new_messages(user_prompt):
        if role != "user" or not content or any(word in content.lower() for word in skip):
            continue
        facts.append({"id": str(len(facts)), "text": f"User says: {content}", "attributed_to": "user"})
    return facts


class FakeLLM:
    def __init__(self):
        self.requests: list[dict] = []
        self.status: int | None = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def user_prompts(self) -> list[str]:
        return [m["content"] for body in self.requests for m in body.get("messages", []) if m.get("role") == "user"]

    def answer(self, body: dict) -> dict:
        user_prompt = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
        content = json.dumps({"memory": extract(user_prompt)})
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(user_prompt) // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": (len(user_prompt) + len(content)) // 4},
        }

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._send(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                fake.requests.append(body)
                if fake.status:
                    return self._send(fake.status, {"error": {"message": "unavailable", "type": "server_error"}})
                self._send(200, fake.answer(body))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
