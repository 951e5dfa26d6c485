"""The django-allauth pages the portal uses (README, "Accounts"), each marked with who may
reach it like every other view (``portal.access``): sign-up and the email link are public,
the second factor's pages need a login. Logging in and password reset stay ``portal.auth``'s
(named also ``account_login`` for allauth's own links)."""

from allauth.account import views as account
from allauth.mfa.base import views as mfa
from allauth.mfa.recovery_codes import views as recovery
from allauth.mfa.totp import views as totp
from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from portal.access import any_role_required, forget_second_factor, public
from portal.auth import login_view, password_reset_view

urlpatterns = [
    path("login/", login_view, name="account_login"),
    path("logout/", any_role_required(auth_views.LogoutView.as_view()), name="account_logout"),
    path("password/reset/", password_reset_view, name="account_reset_password"),
    path("signup/", public(account.signup), name="account_signup"),
    path("confirm-email/", public(account.email_verification_sent), name="account_email_verification_sent"),
    re_path(r"^confirm-email/(?P<key>[-:\w]+)/$", public(account.confirm_email), name="account_confirm_email"),
    path("reauthenticate/", any_role_required(account.reauthenticate), name="account_reauthenticate"),
    path("2fa/", any_role_required(mfa.index), name="mfa_index"),
    path("2fa/authenticate/", public(mfa.authenticate), name="mfa_authenticate"),
    path("2fa/reauthenticate/", any_role_required(mfa.reauthenticate), name="mfa_reauthenticate"),
    path("2fa/totp/activate/", any_role_required(totp.activate_totp), name="mfa_activate_totp"),
    path("2fa/totp/deactivate/", any_role_required(forget_second_factor(totp.deactivate_totp)),
         name="mfa_deactivate_totp"),
    path("2fa/recovery-codes/", any_role_required(recovery.view_recovery_codes), name="mfa_view_recovery_codes"),
    path("2fa/recovery-codes/generate/", any_role_required(recovery.generate_recovery_codes),
         name="mfa_generate_recovery_codes"),
    path("2fa/recovery-codes/download/", any_role_required(recovery.download_recovery_codes),
         name="mfa_download_recovery_codes"),
]
