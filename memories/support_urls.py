from django.urls import path

from memories import support_views

app_name = "support"

urlpatterns = [
    path("", support_views.queue, name="queue"),
]
