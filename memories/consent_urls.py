from django.urls import path

from memories import consent_views as views

app_name = "consent"

urlpatterns = [
    path("children/<int:child_id>/consent/", views.child_consent, name="child"),
    path("children/<int:child_id>/consent/withdraw/", views.withdraw, name="withdraw"),
    path("consent/<str:reference>/", views.verification, name="verification"),
    path("support/consents/", views.support_queue, name="support_queue"),
    path("support/consents/<str:reference>/", views.support_verification, name="support_verification"),
    path("support/consents/<str:reference>/file/", views.support_form_file, name="support_file"),
]
