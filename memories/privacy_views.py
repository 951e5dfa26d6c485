"""A parent's privacy pages: deletion requests (made here, handled by support), and the
receipts of every erasure of the household's data, each with a reference to find it again."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices import selectors
from devices.models import ChildProfile
from memories import deletion, erasure, services
from memories import selectors as memory_selectors
from memories.models import DeletionRequest, Job
from portal.access import parent_required
from portal.dates import day
from portal.errors import ApplicationError
from portal.forms import apply_error


class DeletionForm(forms.Form):
    scope = forms.ChoiceField(choices=DeletionRequest.Scope.choices, widget=forms.RadioSelect,
                              label=_("What should be deleted?"))
    child = forms.ModelChoiceField(queryset=ChildProfile.objects.none(), required=False,
                                   label=_("Child"), help_text=_("Only when deleting one child's data."))
    confirm = forms.BooleanField(label=_("I understand that deleted memories cannot be recovered"))

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].queryset = household.children.all()



@require_http_methods(["GET", "POST"])
@parent_required
def deletion_new(request):
    household = _household(request.user)
    form = DeletionForm(request.POST or None, household=household,
                        initial={"scope": request.GET.get("scope", "child"), "child": request.GET.get("child")})
    if request.method == "POST" and form.is_valid():
        try:
            req = deletion.request_create(actor=request.user, household=household, scope=form.cleaned_data["scope"],
                                          child=form.cleaned_data["child"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("Request #%(n)s received. Support will confirm it is you, then delete "
                                        "everything by %(day)s.") % {"n": req.pk, "day": day(req.due_at)})
            return redirect("privacy:deletion_detail", request_id=req.pk)
    return render(request, "memories/privacy_deletion_form.html",
                  {"form": form, "household": household, "due_days": settings.DELETION_DUE_DAYS})


@require_GET
@parent_required
def deletion_detail(request, request_id):
    req = deletion.request_for(request.user, request_id)
    return render(request, "memories/privacy_deletion_detail.html",
                  {"req": req, "receipt_rows": deletion.receipt_rows(req)})


def _household(user):
    household = selectors.households_for(user).first()
    if household is None:
        raise Http404("You are not a member of a household.")
    return household


@require_GET
@parent_required
def overview(request):
    return render(request, "memories/privacy.html", {
        "household": selectors.households_for(request.user).first(),
        "requests": deletion.requests_for(request.user).order_by("-received_at"),
        "erasures": erasure.erasures_for(request.user),
        "exports": memory_selectors.jobs_for(request.user).filter(kind=Job.Kind.EXPORT_HOUSEHOLD)[:5],
        "ttl": settings.EXPORT_TTL_HOURS,
    })


@require_POST
@parent_required
def household_export(request):
    """One download of everything the household holds, prepared by a job (its page shows
    the progress and the download link)."""
    job = services.household_export_start(actor=request.user, household=_household(request.user))
    return redirect("memories:job", job_id=job.pk)


@require_GET
@parent_required
def erasure_detail(request, reference):
    found = erasure.erasure_for(request.user, reference)
    return render(request, "memories/privacy_erasure.html",
                  {"erasure": found, "receipt_rows": erasure.receipt_rows(found.receipt)})
