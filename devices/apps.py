from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices, children and agents"

    def ready(self):
        from devices import guards
        from devices.models import ProfileSync
        from portal import queue

        guards.connect()
        # The memories room's worker pushes profiles; named, not imported (apps import one way).
        queue.register(ProfileSync, "memories.tasks.profile_sync", related=("child__household",))
