import os

from django.core.wsgi import get_wsgi_application

from portal.bootstrap import ensure_embedded_env

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
ensure_embedded_env()
application = get_wsgi_application()
