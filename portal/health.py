"""Health checks the admins' settings page shows. Rooms above portal register theirs (the
memory store registers "mem0" in memories.apps), so portal never imports them."""

from collections.abc import Callable

_checks: dict[str, Callable[[], dict]] = {}


def register(name: str, check: Callable[[], dict]) -> None:
    _checks[name] = check


def check(name: str) -> dict:
    found = _checks.get(name)
    return found() if found is not None else {"reachable": False, "error": "not configured", "backend": "",
                                              "where": ""}
