import os
import sys

from django.core.wsgi import get_wsgi_application

from portal.bootstrap import ensure_embedded_env

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
ensure_embedded_env()
application = get_wsgi_application()

# The web process loads the embedding model now, not on the first request (`make run`'s
# runserver, or any WSGI server); gunicorn's workers do it after their fork (gunicorn.conf.py),
# never in its master. PORTAL_WARM_UP=0 skips it.
if "gunicorn" not in sys.modules and os.environ.get("PORTAL_WARM_UP", "1") != "0":
    from portal.signals import web_process_started

    web_process_started.send(sender=None)
