from django.urls import path

from portal import views

app_name = "staff"

urlpatterns = [
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/role/", views.user_role, name="user_role"),
    path("settings/", views.settings_status, name="settings"),
    path("queues/", views.dead_rows, name="dead_rows"),
    path("queues/<str:queue_key>/<int:row_id>/retry/", views.dead_row_retry, name="dead_row_retry"),
]
