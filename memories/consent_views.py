"""Consent pages: a parent reads the notice and consents per purpose, prints and uploads the
signed form, withdraws (keep paused or erase); support checks the forms and sees each
child's consent state (never a memory)."""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from devices import consent
from devices.models import ConsentVerification
from devices.selectors import child_for
from memories import lifecycle
from portal.access import parent_required, support_required
from portal.errors import ApplicationError
from portal.forms import apply_error


class ConsentForm(forms.Form):
    signer_name = forms.CharField(label=_("Your full name (as you will sign the form)"), max_length=120)
    purposes = forms.MultipleChoiceField(label=_("I consent to"), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purposes"].choices = [(p, consent.purpose_label(p)) for p in consent.offered_purposes()]


class UploadForm(forms.Form):
    form = forms.FileField(label=_("The signed form (PDF, PNG or JPEG, up to 5 MB)"))


class WithdrawForm(forms.Form):
    what = forms.ChoiceField(label=_("What do you withdraw?"), widget=forms.RadioSelect, choices=[
        ("all", _("Everything: the toy stops remembering now")),
        ("llm", _("Only sending conversations to the LLM provider: the toy stops learning, keeps what it knows")),
    ])
    choice = forms.ChoiceField(label=_("And the memories the toy has now?"), widget=forms.RadioSelect, required=False,
                               choices=consent.Withdrawal.choices[:2])
    confirmation = forms.CharField(label=_("To erase, type the child's name"), required=False, max_length=60)

    def __init__(self, *args, child, **kwargs):
        super().__init__(*args, **kwargs)
        self.child = child
        self.fields["confirmation"].label = _("To erase, type %(name)s to confirm") % {"name": child.name}

    def clean(self):
        data = super().clean()
        if data.get("what") == "all" and not data.get("choice"):
            self.add_error("choice", "Choose whether to keep the memories (paused) or erase them.")
        if data.get("what") == "all" and data.get("choice") == consent.Withdrawal.ERASE and \
                (data.get("confirmation") or "").strip() != self.child.name:
            self.add_error("confirmation", f"Type {self.child.name} exactly to confirm the erase.")
        return data


def _context(child, **extra):
    return {"child": child, "states": consent.consent_states(child), "open": consent.open_verification(child),
            "notice_version": consent.NOTICE_VERSION, "llm_provider": consent.llm_provider_name(),
            "platform": consent.platform_in_use(), **extra}


@require_http_methods(["GET", "POST"])
@parent_required
def child_consent(request, child_id):
    child = child_for(request.user, child_id)
    form = ConsentForm(request.POST or None, initial={"purposes": consent.offered_purposes()})
    if request.method == "POST" and form.is_valid():
        try:
            verification = consent.consent_request(actor=request.user, child=child, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            return redirect("consent:verification", reference=verification.reference)
    return render(request, "memories/consent.html", _context(child, form=form),
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@parent_required
def verification(request, reference):
    found = consent.verification_for(request.user, reference)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            consent.consent_submit(actor=request.user, verification=found, upload=form.cleaned_data["form"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Thank you. We check the form within one working day; the toy starts "
                                      "remembering once it is verified.")
            return redirect("consent:child", child_id=found.child_id)
    return render(request, "memories/consent_form.html", {
        "v": found, "form": form, "labels": [consent.purpose_label(p) for p in found.purposes],
    }, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@parent_required
def withdraw(request, child_id):
    child = child_for(request.user, child_id)
    form = WithdrawForm(request.POST or None, child=child)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        purposes = list(consent.Purpose.values) if data["what"] == "all" else [consent.Purpose.LLM]
        try:
            erasure = lifecycle.consent_withdraw(actor=request.user, child=child, purposes=purposes,
                                                 choice=data.get("choice") or "")
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            if erasure is not None:
                messages.success(request, f"Consent withdrawn. {child.name}'s memories are being erased.")
                return redirect("privacy:erasure_detail", reference=erasure.reference)
            messages.success(request, "Consent withdrawn: it applies now.")
            return redirect("consent:child", child_id=child.pk)
    return render(request, "memories/consent_withdraw.html", {"child": child, "form": form},
                  status=400 if form.errors else 200)


# -- support ------------------------------------------------------------------------------

class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=300, label=_("Note to the parent (needed to reject)"))


@require_GET
@support_required
def support_queue(request):
    waiting = ConsentVerification.objects.filter(state=ConsentVerification.State.SUBMITTED).select_related(
        "household", "child").order_by("updated_at")
    return render(request, "memories/support_consents.html", {"waiting": waiting})


@require_http_methods(["GET", "POST"])
@support_required
def support_verification(request, reference):
    found = get_object_or_404(ConsentVerification.objects.select_related("household", "child"),
                              reference=reference.upper())
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            consent.consent_decide(actor=request.user, verification=found,
                                   approve=form.cleaned_data["decision"] == "approve", note=form.cleaned_data["note"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"{found.reference} decided.")
            return redirect("consent:support_queue")
    return render(request, "memories/support_consent.html", {
        "v": found, "form": form, "labels": [consent.purpose_label(p) for p in found.purposes],
    }, status=400 if form.errors else 200)


@require_GET
@support_required
def support_form_file(request, reference):
    found = get_object_or_404(ConsentVerification, reference=reference.upper(),
                              state=ConsentVerification.State.SUBMITTED)
    response = HttpResponse(bytes(found.form_bytes or b""), content_type=found.form_content_type)
    response["Content-Disposition"] = f'inline; filename="{found.reference}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response

