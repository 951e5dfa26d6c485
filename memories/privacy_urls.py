from django.urls import path

from memories import privacy_views as views

app_name = "privacy"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("download/", views.household_export, name="household_export"),
    path("deletion/", views.deletion_new, name="deletion_new"),
    path("deletion/<int:request_id>/", views.deletion_detail, name="deletion_detail"),
    path("erasures/<str:reference>/", views.erasure_detail, name="erasure_detail"),
]
