"""Signals a lower room sends so a higher room can act, keeping imports one way."""

from django.dispatch import Signal

# A web process has loaded the WSGI application (portal.wsgi): warm up what the first request
# would otherwise wait for (memories.apps connects the query encoder and Mem0). Not sent by
# manage.py commands (migrate stays quick), nor under gunicorn, whose workers warm up after
# their fork (gunicorn.conf.py: post_worker_init).
web_process_started = Signal()
