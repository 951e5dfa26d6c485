import logging

from portal.logging import StripQueryString


def test_query_strings_never_reach_the_log(caplog):
    logger = logging.getLogger("django.server")
    handler_filter = StripQueryString()
    record = logger.makeRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("GET /children/1/memories/?q=peanut+allergy HTTP/1.1", "200", "512"), None)
    assert handler_filter.filter(record)
    assert "peanut" not in record.getMessage()
    assert "/children/1/memories/?…" in record.getMessage()
