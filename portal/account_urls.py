from django.urls import path

from portal import account_views as views

urlpatterns = [
    path("", views.account, name="account"),
    path("language/", views.language_switch, name="language"),
]
