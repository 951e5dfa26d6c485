"""The support desk: deletion requests (queue, detail, transitions, logging a request
received by email or phone) and a household lookup. Support and admins only; nothing here
shows memory text, exports or profiles beyond a child's name."""

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices.consent import consent_states
from devices.models import ChildProfile
from devices.selectors import household_for_staff, households_search
from memories import deletion
from memories.models import DeletionRequest
from portal.access import support_required
from portal.errors import ApplicationError
from portal.forms import apply_error
from portal.middleware import HtmxHttpRequest

Channel = DeletionRequest.Channel


class VerifyForm(forms.Form):
    identity_check = forms.CharField(
        label="How did you check who is asking?", max_length=deletion.MAX_IDENTITY_CHECK,
        help_text="E.g. “Called back the number on the account; confirmed child's name and toy MAC”. "
                  "Never write what the toy remembers.")


class LogRequestForm(forms.Form):
    channel = forms.ChoiceField(label="Received by", choices=[(Channel.EMAIL, "Email"), (Channel.PHONE, "Phone")])
    received_on = forms.DateField(label="Received on", widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.ChoiceField(choices=DeletionRequest.Scope.choices, widget=forms.RadioSelect,
                              label="What should be deleted?")
    child = forms.ModelChoiceField(queryset=ChildProfile.objects.none(), required=False,
                                   help_text="Only when deleting one child's data.")
    identity_check = forms.CharField(
        label="Identity check performed", max_length=deletion.MAX_IDENTITY_CHECK, required=False,
        help_text="What you checked. Leave empty if not checked yet: the request then waits for verification.")

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].queryset = household.children.all()

    def clean_received_on(self):
        day = self.cleaned_data["received_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("The date of receipt cannot be in the future.")
        return day


@require_GET
@support_required
def queue(request):
    show_all = request.GET.get("show") == "all"
    page = Paginator(deletion.queue(show_all=show_all), 50).get_page(request.GET.get("page"))
    return render(request, "memories/support_queue.html", {"page": page, "show_all": show_all, "now": timezone.now()})


def _detail_context(req, verify_form=None):
    return {"req": req, "verify_form": verify_form or VerifyForm(), "receipt_rows": deletion.receipt_rows(req),
            "stuck": deletion.is_stuck(req),
            "events": deletion.request_events(req)}


@require_GET
@support_required
def request_detail(request: HtmxHttpRequest, request_id: int) -> HttpResponse:
    req = deletion.request_for_staff(request.user, request_id)
    template = "memories/support_request.html#state" if request.htmx else "memories/support_request.html"
    return render(request, template, _detail_context(req))


TRANSITIONS = {
    "schedule": deletion.request_schedule,
    "execute": deletion.request_execute,
    "retry": deletion.request_retry,
}


@require_POST
@support_required
def request_transition(request: HtmxHttpRequest, request_id: int, action: str) -> HttpResponse:
    req = deletion.request_for_staff(request.user, request_id)
    form = VerifyForm(request.POST) if action == "verify" else None
    try:
        if form is not None:
            if not form.is_valid():
                raise ApplicationError(str(form.errors["identity_check"][0]), field="identity_check")
            req = deletion.request_verify(actor=request.user, req=req,
                                          identity_check=form.cleaned_data["identity_check"])
        else:
            if action == "execute" and request.POST.get("confirmed") != "yes":
                raise ApplicationError("Tick the box to confirm: the deletion cannot be undone.", field="confirmed")
            req = TRANSITIONS[action](actor=request.user, req=req)
    except ApplicationError as exc:
        if form is not None:
            apply_error(form, exc)
        req.refresh_from_db()
        context = {**_detail_context(req, form), "error": None if form is not None else exc.message}
        # htmx swaps only 2xx answers: the partial carries the error itself.
        if request.htmx:
            return render(request, "memories/support_request.html#state", context)
        return render(request, "memories/support_request.html", context, status=400)
    if request.htmx:
        return render(request, "memories/support_request.html#state", _detail_context(req))
    messages.success(request, f"Request #{req.pk} is {req.get_state_display().lower()}.")
    return redirect("support:request_detail", request_id=req.pk)


@require_GET
@support_required
def households(request):
    query = (request.GET.get("q") or "").strip()[:100]
    found = households_search(request.user, query)
    return render(request, "memories/support_households.html", {"query": query, "households": found})


@require_GET
@support_required
def household_detail(request, household_id):
    household = household_for_staff(request.user, household_id)
    return render(request, "memories/support_household.html", {
        "household": household,
        "members": household.memberships.select_related("user").order_by("created_at"),
        "devices": household.devices.select_related("child", "agent"),
        # Names only: support never sees a profile beyond the child's name.
        "children": household.children.values("id", "name"),
        # Consent state per child and purpose (who, when, which notice): never contents.
        "consents": [(child.name, consent_states(child)) for child in household.children.all()],
        "requests": household.deletion_requests.order_by("-received_at"),
        "events": household.audit_events.select_related("actor")[:100],
    })


@require_http_methods(["GET", "POST"])
@support_required
def request_log(request, household_id):
    household = household_for_staff(request.user, household_id)
    form = LogRequestForm(request.POST or None, household=household,
                          initial={"received_on": timezone.localdate(), "scope": DeletionRequest.Scope.CHILD})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        received_at = timezone.make_aware(datetime.combine(data["received_on"], time(12)))
        if data["received_on"] == timezone.localdate():
            received_at = timezone.now()
        try:
            req = deletion.request_create(actor=request.user, household=household, scope=data["scope"],
                                          child=data["child"], channel=data["channel"],
                                          identity_check=data["identity_check"], received_at=received_at)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Request #{req.pk} logged.")
            return redirect("support:request_detail", request_id=req.pk)
    return render(request, "memories/support_request_log.html", {"form": form, "household": household})
