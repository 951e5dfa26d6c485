from django.urls import path

from devices import household_views as views

app_name = "household"

urlpatterns = [
    path("", views.detail, name="detail"),
    path("invite/", views.invite, name="invite"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("join/<str:token>/", views.join, name="join"),
]
