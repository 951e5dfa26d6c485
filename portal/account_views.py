"""A person's own account page (time zone, language, the weekly digest for parents) and the
language switch under every page (anyone, logged in or not)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from portal import preferences
from portal.access import Role, any_role_required, public, role_of
from portal.errors import ApplicationError
from portal.forms import apply_error


class AccountForm(forms.Form):
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"),
                                  help_text=gettext_lazy("Every date and time in the portal is shown in it."))
    language = forms.ChoiceField(label=gettext_lazy("Language"), widget=forms.RadioSelect, required=False)
    digest_weekly = forms.BooleanField(
        label=gettext_lazy("Email me every week what the toys learned and anything flagged"), required=False,
        help_text=gettext_lazy("Off until you turn it on. Every email has a link to stop it."))

    def __init__(self, *args, parent: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z.replace("_", " ")) for z in preferences.time_zones()]
        self.fields["language"].choices = [("", _("The browser's language")), *settings.LANGUAGES]
        if not parent:
            del self.fields["digest_weekly"]


@require_http_methods(["GET", "POST"])
@any_role_required
def account(request):
    prefs = preferences.preferences_for(request.user)
    parent = role_of(request.user) == Role.PARENT
    initial = {"time_zone": prefs.time_zone or settings.TIME_ZONE, "language": prefs.language,
               "digest_weekly": prefs.digest_weekly}
    form = AccountForm(request.POST or None, initial=initial, parent=parent)
    if request.method == "POST" and form.is_valid():
        try:
            prefs = preferences.preferences_update(
                user=request.user, time_zone=form.cleaned_data["time_zone"], language=form.cleaned_data["language"],
                digest_weekly=form.cleaned_data.get("digest_weekly") if parent else None)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            preferences.remember(request, prefs)
            response = redirect("account")
            _set_language(response, prefs.language or None)
            with translation.override(prefs.language or translation.get_language()):
                messages.success(request, _("Saved."))
            return response
    return render(request, "portal/account.html", {"form": form, "prefs": prefs, "now": timezone.now()})


@require_POST
@public
def language_switch(request):
    """The switch under every page: a cookie for the browser; for a person logged in, also
    their account (so emails come in it too). Back to the page it was used on (``next``, else
    the Referer, which the same-origin referrer policy sends)."""
    language = preferences.valid_language(request.POST.get("language"))
    target = request.POST.get("next") or request.headers.get("Referer") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("home")
    response = HttpResponseRedirect(target, status=303)  # See Other: a GET of the page, whichever it is
    if language:
        if request.user.is_authenticated:
            preferences.language_choose(user=request.user, language=language)
            preferences.remember(request, preferences.preferences_for(request.user))
        _set_language(response, language)
    return response


def _set_language(response, language: str | None) -> None:
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=settings.SESSION_COOKIE_SECURE)
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)


@csrf_exempt  # a signed link, no session: mail programs' one-click unsubscribe (RFC 8058) POSTs here
@require_http_methods(["GET", "POST"])
@public
def digest_unsubscribe(request, token):
    """The link in every digest: GET asks (a mail scanner opening links stops nothing), POST
    stops the digest, without logging in."""
    if request.method == "GET":
        valid = preferences.digest_unsubscribe_check(token)
        return render(request, "portal/digest_unsubscribe.html", {"token": token, "valid": valid},
                      status=200 if valid else 400)
    done = preferences.digest_unsubscribe(token) is not None
    return render(request, "portal/digest_unsubscribe.html", {"done": done, "valid": done},
                  status=200 if done else 400)
