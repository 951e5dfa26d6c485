"""`make run`: the web server, a Celery worker (with beat) and the embedded database,
together in the foreground. Ctrl-C stops all of them cleanly."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from portal import embedded


class Command(BaseCommand):
    help = "Run the web server and a real Celery worker + beat in the foreground."

    def handle(self, *args, **options):
        port = os.environ.get("PORT", "8000")
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "portal", "worker", "--beat", "--loglevel", "INFO",
                  "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
                  "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]
        # The web server as in production (gunicorn.conf.py: workers x threads chosen by
        # `manage.py benchmark`); DEBUG's static files come from portal.wsgi.
        web = [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"]
        web_env = {**os.environ, "WEB_BIND": f"127.0.0.1:{port}"}
        processes = [subprocess.Popen(celery), subprocess.Popen(web, cwd=settings.BASE_DIR, env=web_env)]
        url = f"http://127.0.0.1:{port}"
        self.stdout.write(self.style.SUCCESS(f"\nThe memory portal is running at {url}/  (login: {url}/accounts/login/)"))
        self.stdout.write("Demo logins (password for all: " + os.environ.get("DEMO_PASSWORD", "toy-memories-2026") + "):")
        for who, user in (("parent", "parent@demo.test"), ("second parent", "parent2@demo.test"),
                          ("support agent", "support@demo.test"), ("admin", "admin@demo.test")):
            self.stdout.write(f"  {who:14} {user}")
        self.stdout.write("Press Ctrl-C to stop the web server, the worker and the database.\n")
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            # A terminal (or a wrapper) may deliver Ctrl-C more than once: finish stopping.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
            if settings.EMBEDDED:
                embedded.stop()
                self.stdout.write("Stopped the web server, the worker and the embedded database.")
