from django.contrib import admin
from django.urls import include, path

from portal.access import restrict_admin_site
from portal.api import api
from portal.auth import login_view, password_reset_view

restrict_admin_site(admin.site)  # admins only, before the admin URLs are built

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", login_view, name="login"),
    path("accounts/password_reset/", password_reset_view, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/", include("portal.signup_urls")),  # django-allauth: sign-up, email link, TOTP
    path("account/", include("portal.account_urls")),
    path("household/", include("devices.household_urls")),
    path("api/v1/", api.urls),
    path("staff/agents/", include("devices.agent_urls")),
    path("staff/agents/", include("memories.playground_urls")),
    path("household/privacy/", include("memories.privacy_urls")),
    path("staff/", include("portal.admin_urls")),
    path("", include("devices.urls")),
    path("", include("memories.urls")),
    path("", include("memories.consent_urls")),
    path("toys/", include("memories.toy_urls")),
    path("household/keeping/", include("memories.lifecycle_urls")),
    path("support/", include("memories.support_urls")),
]

handler403 = "portal.error_views.permission_denied"
handler404 = "portal.error_views.page_not_found"
handler500 = "portal.error_views.server_error"
