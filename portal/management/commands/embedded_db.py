from django.core.management.base import BaseCommand, CommandError

from portal import embedded


class Command(BaseCommand):
    help = "Start, stop or locate the embedded PostgreSQL in var/ (only without DATABASE_URL)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "url"])

    def handle(self, *args, action, **options):
        from django.conf import settings

        if not settings.EMBEDDED:
            raise CommandError("DATABASE_URL is set: the embedded database is not in use.")
        if action == "stop":
            embedded.stop()
            self.stdout.write("Embedded PostgreSQL stopped.")
        else:
            self.stdout.write(settings.DATABASE_URL)
