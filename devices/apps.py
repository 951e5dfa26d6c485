from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices, children and agents"

    def ready(self):
        from devices import guards

        guards.connect()
