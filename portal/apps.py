from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from portal.preferences import on_login

        user_logged_in.connect(on_login, dispatch_uid="portal.preferences.on_login")
