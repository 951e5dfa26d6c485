class ApplicationError(Exception):
    """A request the domain refuses, with a message a person can act on.

    ``field`` names the input at fault (forms attach it there; the API returns it)."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid", extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.extra = extra or {}


class ServiceUnavailable(Exception):
    """A service the portal needs (the memory store) cannot be reached: try again later.
    Rooms above portal subclass it (``memories.gateway.Mem0Unavailable``); the API answers
    503 with Retry-After for every subclass."""
