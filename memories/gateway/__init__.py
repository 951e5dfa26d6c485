"""The Mem0 gateway (moving into a package: memories/gateway/local.py for now)."""

from memories.gateway.local import *  # noqa: F401,F403
from memories.gateway.local import _gateway, get, reset_for_tests  # noqa: F401
