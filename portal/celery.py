import os

from celery import Celery

import portal.broker  # noqa: F401  (registers the pgsqla+ broker transport)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _embedded_database(sender, **kwargs):
    """Worker and beat: the embedded database is started before Celery reads the settings.
    (Importing this module starts nothing; in web and test processes this finds
    DATABASE_URL already set and does nothing.)"""
    from portal.bootstrap import ensure_embedded_env

    ensure_embedded_env()

