from django.urls import path

from memories import support_views as views

app_name = "support"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("requests/<int:request_id>/", views.request_detail, name="request_detail"),
    path("requests/<int:request_id>/verify/", views.request_transition, {"action": "verify"}, name="request_verify"),
    path("requests/<int:request_id>/schedule/", views.request_transition, {"action": "schedule"},
         name="request_schedule"),
    path("requests/<int:request_id>/execute/", views.request_transition, {"action": "execute"},
         name="request_execute"),
    path("requests/<int:request_id>/retry/", views.request_transition, {"action": "retry"}, name="request_retry"),
    path("households/", views.households, name="households"),
    path("households/<int:household_id>/", views.household_detail, name="household_detail"),
    path("households/<int:household_id>/requests/new/", views.request_log, name="request_log"),
]
