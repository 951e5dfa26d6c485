"""Try a draft memory prompt: real Mem0 extraction of a sample conversation into a
throw-away namespace, the memories it would create, then every trace of it erased.

Nothing of the sample stays: the namespace is purged in every store (vectors, entities,
history, Mem0's message log) and the purge is verified before the result is shown."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.conf import settings

from memories import gateway
from memories.erasure import OUR_STORES, erasure_run, erasure_start
from portal.audit import audit
from portal.errors import ApplicationError

MAX_LINES = 200
MAX_CHARS = 20_000
ROLE_WORDS = {"user": "user", "child": "user", "kid": "user", "assistant": "assistant", "toy": "assistant",
              "bot": "assistant", "agent": "assistant"}

SAMPLES = {
    "friends": (
        "A child talks about friends and a pet",
        "child: Today I played football with my friend Arjun at the park.\n"
        "toy: That sounds fun! Who won?\n"
        "child: Arjun did. My dog Biscuit chased the ball too.\n"
        "toy: Biscuit sounds like a great goalkeeper!\n"
        "child: I live at 12 Rose Street and my phone number is 555-0134.\n"
        "toy: Let's keep that private. What else did you do today?\n"
        "child: I go to Green Valley School and I love dinosaurs.",
    ),
    "bedtime": (
        "Bedtime routine and a worry",
        "child: I don't want to sleep, I'm scared of the dark.\n"
        "toy: Lots of people feel that way. What helps you feel safe?\n"
        "child: My night light shaped like a moon, and my teddy Mr Snuggles.\n"
        "toy: Mr Snuggles sounds very brave.\n"
        "child: Mum reads me a story at 8 o'clock every night.",
    ),
}


@dataclass(frozen=True)
class PlaygroundResult:
    memories: list[str]
    leftover: dict  # counts per store after the purge: all zero


def llm_configured() -> bool:
    """The local backend extracts with our LLM; the Platform extracts with its own."""
    return bool(settings.LLM_BASE_URL or settings.MEM0_API_KEY)


def parse_conversation(text: str) -> list[dict]:
    """``child: …`` / ``toy: …`` lines (or user/assistant) into messages; an unprefixed
    line continues the previous message."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError("Paste a conversation or pick a sample.", field="conversation")
    if len(text) > MAX_CHARS:
        raise ApplicationError(f"Keep the sample under {MAX_CHARS} characters.", field="conversation")
    messages: list[dict] = []
    for line in text.splitlines()[:MAX_LINES]:
        if not line.strip():
            continue
        match = re.match(r"^\s*(\w+)\s*:\s*(.*)$", line)
        role = ROLE_WORDS.get(match.group(1).lower()) if match else None
        if role:
            messages.append({"role": role, "content": match.group(2).strip()})
        elif messages:
            messages[-1]["content"] += "\n" + line.strip()
        else:
            raise ApplicationError("Start each message with “child:” or “toy:”.", field="conversation")
    if not any(m["role"] == "user" and m["content"] for m in messages):
        raise ApplicationError("The conversation needs at least one line from the child.", field="conversation")
    return messages


def playground_run(*, actor, agent, prompt: str, conversation: str) -> PlaygroundResult:
    """Extract with ``prompt`` into a fresh namespace, read what was created, erase it all."""
    messages = parse_conversation(conversation)
    if not llm_configured():
        raise ApplicationError("No LLM is configured (LLM_BASE_URL): extraction cannot run.", code="no_llm")
    gw = gateway.get()
    namespace = f"playground-{uuid.uuid4().hex}"
    try:
        gw.add_conversation(namespace, messages, prompt=prompt or None, metadata={"kind": "playground"})
        records = gw.list([namespace], limit=500).items
        texts = [r.text for r in sorted(records, key=lambda r: (r.created_at is None, r.created_at, r.text))]
    finally:
        # The one erase path: every store purged, then verified empty.
        erasure = erasure_start(scope="namespace", origin="playground", actor=actor, namespaces=[namespace],
                                enqueue=False)
        erasure = erasure_run(erasure.pk)
    if erasure.state != erasure.State.DONE:
        raise RuntimeError(f"The playground namespace was not fully erased: {erasure.last_error}")
    leftover = {store: 0 for store in erasure.receipt["verified_empty"] if store not in OUR_STORES}
    audit(actor=actor, action="agent.playground", agent_id=getattr(agent, "pk", None), count=len(texts))
    return PlaygroundResult(memories=texts, leftover=leftover)
