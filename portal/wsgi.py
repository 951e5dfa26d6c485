import os
import sys

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from portal.bootstrap import ensure_embedded_env

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
ensure_embedded_env()
pages = get_wsgi_application()
if settings.DEBUG:  # `make run`: gunicorn serves the static files, as runserver would
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    pages = StaticFilesHandler(pages)


class ApiHandler(WSGIHandler):
    """Requests under ``/api/`` (the toy servers') go through Django's handler built with
    ``settings.API_MIDDLEWARE``: they skip the middleware only browser pages need."""

    def load_middleware(self, is_async=False):
        every = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE  # read by the base class, once, at start-up
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = every


api = ApiHandler()


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/api/"):
        return api(environ, start_response)
    return pages(environ, start_response)


# The web process loads the embedding model now, not on the first request (`make run`'s
# runserver, or any WSGI server); gunicorn's workers do it after their fork (gunicorn.conf.py),
# never in its master. PORTAL_WARM_UP=0 skips it.
if "gunicorn" not in sys.modules and os.environ.get("PORTAL_WARM_UP", "1") != "0":
    from portal.signals import web_process_started

    web_process_started.send(sender=None)
