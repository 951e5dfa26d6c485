from django.urls import path

from devices import views

urlpatterns = [
    path("", views.home, name="home"),
    path("children/add/", views.child_edit, name="child_add"),
    path("children/<int:child_id>/", views.child_detail, name="child_detail"),
    path("children/<int:child_id>/sync/", views.child_sync, name="child_sync"),
    path("children/<int:child_id>/edit/", views.child_edit, name="child_edit"),
    path("children/<int:child_id>/memory/", views.child_memory_switch, name="child_memory_switch"),
    path("devices/add/", views.device_add, name="device_add"),
    path("devices/<int:device_id>/assign/", views.device_assign, name="device_assign"),
    path("staff/toys/add/", views.staff_device_add, name="staff_device_add"),
]
