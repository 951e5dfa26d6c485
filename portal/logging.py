"""Logging filters that keep children's words out of log files."""

import logging
import re

_QUERY = re.compile(r"\?\S*")


class StripQueryString(logging.Filter):
    """Request lines carry search terms and toy queries in their query strings: drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_QUERY.sub("?…", a) if isinstance(a, str) else a for a in record.args)
        record.msg = _QUERY.sub("?…", str(record.msg))
        return True
