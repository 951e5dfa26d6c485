"""The parent's toys page: every toy of the household with its child, agent, last seen and
memory state; rename, move (``devices.views.device_assign``), remove. Removing a child's
last toy asks whether to keep or erase the child's memories, confirmed like a delete."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices import selectors, toys
from memories import conversations, lifecycle
from portal.access import parent_required
from portal.errors import ApplicationError
from portal.forms import apply_error

MEMORY_STATES = {
    "": "On", "memory_off": "Off for this agent", "paused": "Paused", "no_consent": "Off: no consent yet",
    "no_platform_consent": "Off: no consent to the Mem0 Platform", "no_llm_consent": "Recalls, does not learn",
}


class RenameForm(forms.Form):
    name = forms.CharField(max_length=80, label="New name")


class RemoveForm(forms.Form):
    choice = forms.ChoiceField(widget=forms.RadioSelect, required=False, label="And the memories?", choices=[
        ("keep", "Keep them: a new toy for this child carries on"),
        ("erase", "Erase them for good (you get a receipt)"),
    ])
    confirmation = forms.CharField(required=False, max_length=60)

    def __init__(self, *args, device, last: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.device, self.last = device, last
        if last:
            self.fields["choice"].required = True
            self.fields["confirmation"].label = f"To erase, type {device.child.name} to confirm"
        else:
            del self.fields["choice"], self.fields["confirmation"]

    def clean(self):
        data = super().clean()
        if self.last and data.get("choice") == "erase" and \
                (data.get("confirmation") or "").strip() != self.device.child.name:
            self.add_error("confirmation", f"Type {self.device.child.name} exactly to confirm the erase.")
        return data


def _memory_state(device) -> str:
    if device.child_id is None:
        return "Not linked to a child"
    learning = conversations.memory_off_reason(device, learning=True)
    return MEMORY_STATES.get(conversations.memory_off_reason(device) or learning, learning)


@require_GET
@parent_required
def toy_list(request):
    devices = list(selectors.devices_for(request.user).order_by("name", "mac"))
    return render(request, "memories/toys.html", {
        "rows": [(d, _memory_state(d)) for d in devices], "rename_form": RenameForm(),
    })


@require_POST
@parent_required
def toy_rename(request, device_id):
    device = selectors.device_for(request.user, device_id)
    form = RenameForm(request.POST)
    if form.is_valid():
        try:
            toys.device_rename(actor=request.user, device=device, name=form.cleaned_data["name"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Renamed to {device.name}.")
    else:
        messages.error(request, "Give the toy a name.")
    return redirect("toys:list")


@require_http_methods(["GET", "POST"])
@parent_required
def toy_remove(request, device_id):
    device = selectors.device_for(request.user, device_id)
    last = toys.is_last_toy(device)
    form = RemoveForm(request.POST if request.method == "POST" else None, device=device, last=last)
    if request.method == "POST" and form.is_valid():
        erase = last and form.cleaned_data.get("choice") == "erase"
        try:
            erasure = lifecycle.toy_remove(actor=request.user, device=device, erase=erase)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            if erasure is not None:
                messages.success(request, f"The toy is removed; {erasure.child_name}'s memories are being erased.")
                return redirect("privacy:erasure_detail", reference=erasure.reference)
            messages.success(request, "The toy is removed. The memories stay with the child.")
            return redirect("toys:list")
    return render(request, "memories/toy_remove.html", {"device": device, "form": form, "last": last},
                  status=400 if form.errors else 200)
