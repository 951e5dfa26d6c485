"""A household's keeping rules: how long learned memories are kept, closing the account
(erased after a notice period, with a final export link and a receipt), reopening."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices import selectors
from devices.models import Household
from memories import lifecycle
from portal.access import parent_required
from portal.errors import ApplicationError
from portal.forms import apply_error

CHOICES = [("" if v is None else str(v), label) for v, label in Household._meta.get_field("retention_months").choices]


class RetentionForm(forms.Form):
    months = forms.ChoiceField(label=_("Keep what the toy learns for"), choices=CHOICES, required=False)


class CloseForm(forms.Form):
    confirmation = forms.CharField(label="Type the household's name to confirm", max_length=100)

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.household = household
        self.fields["confirmation"].label = f"Type {household.name} to confirm"

    def clean_confirmation(self):
        value = self.cleaned_data["confirmation"].strip()
        if value != self.household.name:
            raise forms.ValidationError(f"Type {self.household.name} exactly to confirm.")
        return value


def _household(user):
    household = selectors.households_for(user).first()
    if household is None:
        raise Http404("You are not a member of a household.")
    return household


def _page(request, household, retention_form=None, close_form=None, status=200):
    return render(request, "memories/household_keeping.html", {
        "household": household,
        "retention_form": retention_form or RetentionForm(initial={"months": household.retention_months or ""}),
        "close_form": close_form or CloseForm(household=household),
        "notice_days": settings.HOUSEHOLD_CLOSE_NOTICE_DAYS, "inactive_days": settings.HOUSEHOLD_INACTIVE_DAYS,
        "children": household.children.order_by("name"),
    }, status=status)


@require_GET
@parent_required
def keeping(request):
    return _page(request, _household(request.user))


@require_POST
@parent_required
def retention(request):
    household = _household(request.user)
    form = RetentionForm(request.POST)
    if form.is_valid():
        months = int(form.cleaned_data["months"]) if form.cleaned_data["months"] else None
        try:
            lifecycle.household_set_retention(actor=request.user, household=household, months=months)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Saved: older learned memories are erased every day.")
            return redirect("keeping:page")
    return _page(request, household, retention_form=form, status=400)


@require_http_methods(["POST"])
@parent_required
def close(request):
    household = _household(request.user)
    form = CloseForm(request.POST, household=household)
    if form.is_valid():
        try:
            lifecycle.household_close(actor=request.user, household=household)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Closed. Everything is erased on {household.erase_after:%Y-%m-%d}; "
                                      "download a final copy before then.")
            return redirect("keeping:page")
    return _page(request, household, close_form=form, status=400)


@require_POST
@parent_required
def reopen(request):
    household = _household(request.user)
    try:
        lifecycle.household_reopen(actor=request.user, household=household)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Reopened: nothing will be erased, and the toys remember again.")
    return redirect("keeping:page")
