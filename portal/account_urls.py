from django.urls import path

from portal import account_views as views

urlpatterns = [
    path("", views.account, name="account"),
    path("language/", views.language_switch, name="language"),
    path("digest/stop/<str:token>/", views.digest_unsubscribe, name="digest_unsubscribe"),
]
