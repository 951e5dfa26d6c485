from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices import consent, selectors, services, toys
from devices.forms import ChildProfileForm, DeviceAssignForm, PairForm, StaffDeviceForm
from portal.access import Role, parent_required, role_of, support_required
from portal.errors import ApplicationError
from portal.forms import apply_error


@require_GET
@login_required
def home(request):
    role = role_of(request.user)
    if role == Role.SUPPORT:
        return redirect("support:queue")
    if role == Role.ADMIN:
        return redirect("support:queue")
    children = selectors.children_for(request.user).prefetch_related("devices")
    households = selectors.households_for(request.user)
    return render(request, "devices/home.html", {"children": children, "households": households})


def _household(request):
    household = selectors.households_for(request.user).first()
    if household is None:
        raise Http404("You are not a member of a household.")
    return household


@require_GET
@parent_required
def child_detail(request, child_id):
    child = selectors.child_for(request.user, child_id)
    return render(request, "devices/child_detail.html", {
        "child": child,
        "sync": selectors.sync_state(child),
        "devices": child.devices.all(),
        "consent_missing": consent.consent_missing(child, learning=True),
    })


@require_GET
@parent_required
def child_sync(request, child_id):
    child = selectors.child_for(request.user, child_id)
    return render(request, "devices/child_detail.html#sync", {"child": child, "sync": selectors.sync_state(child)})


@require_POST
@parent_required
def child_memory_switch(request, child_id):
    """The visible on/off switch: memory paused (the toys neither learn nor recall) or on."""
    child = selectors.child_for(request.user, child_id)
    paused = request.POST.get("memory") == "off"
    if child.memory_paused != paused:
        services.child_update(actor=request.user, child=child, memory_paused=paused)
    messages.success(request, (_("Memory is paused for %(name)s: the toys neither learn nor recall anything.")
                               if paused else _("Memory is on again for %(name)s.")) % {"name": child.name})
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("child_detail", child_id=child.pk)


@require_http_methods(["GET", "POST"])
@parent_required
def child_edit(request, child_id=None):
    child = selectors.child_for(request.user, child_id) if child_id else None
    form = ChildProfileForm(request.POST or None, instance=child)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in services.CHILD_FIELDS}
        try:
            if child is None:
                child = services.child_create(actor=request.user, household=_household(request), **fields)
            else:
                child = services.child_update(actor=request.user, child=child, **fields)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("Saved. %(name)s's toy will know within seconds.") % {"name": child.name})
            return redirect("child_detail", child_id=child.pk)
    return render(request, "devices/child_form.html", {"form": form, "child": child})


@require_http_methods(["GET", "POST"])
@parent_required
def device_add(request):
    """A parent adds a toy with the 6-digit code the toy says (``devices.toys``)."""
    household = _household(request)
    form = PairForm(request.POST or None, household=household)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = toys.pairing_claim(actor=request.user, household=household, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
            status = exc.extra.get("status", 400)
        else:
            messages.success(request, _("%(toy)s is paired.") % {"toy": device})
            return redirect("toys:list")
    return render(request, "devices/device_pair.html", {"form": form},
                  status=400 if status == 200 and form.errors else status)


@require_http_methods(["GET", "POST"])
@support_required
def staff_device_add(request):
    """Staff register a toy by its MAC (parents pair with a code)."""
    form = StaffDeviceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            device = services.device_register(actor=request.user, household=data["household"], mac=data["mac"],
                                              name=data["name"], child=data["child"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"{device} is registered to {device.household}.")
            return redirect("support:household_detail", household_id=device.household_id)
    return render(request, "devices/device_form.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@parent_required
def device_assign(request, device_id):
    device = selectors.device_for(request.user, device_id)
    form = DeviceAssignForm(request.POST or None, household=device.household,
                            initial={"child": device.child_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.device_assign(actor=request.user, device=device, child=form.cleaned_data["child"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("%(toy)s is updated.") % {"toy": device})
            return redirect("toys:list")
    return render(request, "devices/device_assign.html", {"form": form, "device": device})
