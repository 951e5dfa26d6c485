from django.urls import path

from memories import toy_page_views as views

app_name = "toys"

urlpatterns = [
    path("", views.toy_list, name="list"),
    path("<int:device_id>/rename/", views.toy_rename, name="rename"),
    path("<int:device_id>/remove/", views.toy_remove, name="remove"),
]
