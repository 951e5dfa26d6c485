"""A memory provider for xiaozhi-esp32-server that keeps the toy's memories in the memory
portal: mem0ai's ``MemoryClient`` with ``host=`` pointed at the portal's Mem0-compatible
routes, so parents' controls (🚫, pause, deletion) reach the toy.

Install: copy this folder to ``main/xiaozhi-server/core/providers/memory/mem0_portal/`` and
select it in ``data/.config.yaml``::

    selected_module:
      Memory: mem0_portal
    Memory:
      mem0_portal:
        type: mem0_portal
        host: https://portal.example.org/api/v1/mem0
        api_key: mpt_...   # a fleet token (Staff → Agents → Toy server tokens) or one toy's token

The toy's MAC address (xiaozhi's ``device-id``) is the ``user_id``; the portal maps it to the
child the toy is linked to. Works with the mem0ai that xiaozhi pins (1.0.0) and with 2.x."""

import traceback

from mem0 import MemoryClient

from ..base import MemoryProviderBase, logger

TAG = __name__


def memory_lines(results: dict) -> str:
    """``- [YYYY-MM-DD HH:MM:SS] text`` per memory, newest first (what goes into the prompt)."""
    dated = []
    for entry in (results or {}).get("results", []):
        stamp, text = entry.get("updated_at") or "", entry.get("memory") or ""
        if stamp and text:
            dated.append((stamp, f"- [{stamp.split('.')[0].replace('T', ' ')}] {text}"))
    return "\n".join(line for _, line in sorted(dated, reverse=True))


class MemoryProvider(MemoryProviderBase):
    def __init__(self, config, summary_memory=None):
        super().__init__(config)
        self.api_key = config.get("api_key", "")
        self.host = config.get("host", "")
        self.use_mem0 = bool(self.api_key and self.host)
        if not self.use_mem0:
            logger.bind(tag=TAG).error("mem0_portal: set host (the portal's /api/v1/mem0) and api_key (a token)")
            return
        try:
            self.client = MemoryClient(api_key=self.api_key, host=self.host)
            logger.bind(tag=TAG).info("Connected to the memory portal")
        except Exception as e:
            logger.bind(tag=TAG).error(f"Cannot reach the memory portal: {e}")
            logger.bind(tag=TAG).debug(traceback.format_exc())
            self.use_mem0 = False

    async def save_memory(self, msgs, context=None):
        """The session, once, at its end: the portal learns from it in the background (or
        drops it while the child's memory is paused)."""
        if not self.use_mem0 or len(msgs) < 2:
            return None
        messages = [{"role": m.role, "content": m.content} for m in msgs if m.role != "system"]
        try:
            result = self.client.add(messages, user_id=self.role_id)
            logger.bind(tag=TAG).debug(f"Saved to the memory portal: {result}")
            return result
        except Exception as e:
            logger.bind(tag=TAG).error(f"Saving to the memory portal failed: {e}")
            return None

    async def query_memory(self, query: str) -> str:
        if not self.use_mem0:
            return ""
        try:
            # filters: the form both mem0ai 1.0 and 2.x send (2.x refuses a top-level user_id)
            results = self.client.search(query, filters={"user_id": self.role_id})
        except Exception as e:
            logger.bind(tag=TAG).error(f"Querying the memory portal failed: {e}")
            return ""
        return memory_lines(results)
