from django.urls import path

from memories import lifecycle_views as views

app_name = "keeping"

urlpatterns = [
    path("", views.keeping, name="page"),
    path("retention/", views.retention, name="retention"),
    path("close/", views.close, name="close"),
    path("reopen/", views.reopen, name="reopen"),
]
