"""Logging filters that keep children's words out of log files."""

import logging
import re

_QUERY = re.compile(r"\?\S*")


class StripQueryString(logging.Filter):
    """Request lines carry search terms and toy queries in their query strings: drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):  # "%(name)s" formats (Celery's task lines)
            record.args = {k: _strip(a) for k, a in record.args.items()}
        elif record.args:
            record.args = tuple(_strip(a) for a in record.args)
        record.msg = _QUERY.sub("?…", str(record.msg))
        return True


def _strip(value):
    return _QUERY.sub("?…", value) if isinstance(value, str) else value
