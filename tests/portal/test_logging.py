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


def test_records_with_named_arguments_still_format(caplog):
    """Celery logs "Task %(name)s[%(id)s] succeeded" with a mapping: it must stay one."""
    record = logging.getLogger("celery.app.trace").makeRecord(
        "celery.app.trace", logging.INFO, __file__, 1, "Task %(name)s succeeded: %(url)s",
        ({"name": "memories.tasks.profile_sync", "url": "/x/?q=secret"},), None)
    assert StripQueryString().filter(record)
    assert record.getMessage() == "Task memories.tasks.profile_sync succeeded: /x/?…"
