"""The embedding model and Mem0 load when a web process starts (the WSGI application:
``make run``'s runserver, any WSGI server; gunicorn's workers after their fork), not on the
first request; manage.py commands such as migrate do not load them."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from portal.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
{setup}
from memories import gateway
from memories.gateway import embedding
gw = gateway._gateway
print(json.dumps({{"encoder": embedding._encoder is not None,
                  "mem0": gw is not None and getattr(gw, "_memory", None) is not None,
                  "onnxruntime": "onnxruntime" in sys.modules}}))
"""


def _probe(setup: str, **env) -> dict:
    environ = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY,
               "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    done = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_web_process_loads_the_model_when_it_starts(gw):
    state = _probe("import portal.wsgi")
    assert state == {"encoder": True, "mem0": True, "onnxruntime": True}


def test_manage_py_commands_do_not_load_it(gw):
    state = _probe("import django; django.setup()\n"
                   "from django.core.management import call_command\n"
                   "call_command('migrate', plan=True)")  # loads everything migrate does, applies nothing
    assert state == {"encoder": False, "mem0": False, "onnxruntime": False}


def test_it_can_be_skipped(gw):
    assert _probe("import portal.wsgi", PORTAL_WARM_UP="0")["encoder"] is False
