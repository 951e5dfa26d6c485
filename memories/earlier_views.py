"""A toy's memories from before the portal (``memories.adoption``): how many, adopt, erase.
The child's page loads the summary for each of its toys (htmx; a plain link without it)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from devices.selectors import device_for
from memories import adoption
from memories.views import _partial, mem0_guard
from portal.access import parent_required
from portal.errors import ApplicationError

PAGE = "memories/toy_earlier.html"


@require_GET
@parent_required
@mem0_guard
def toy_earlier(request, device_id):
    device = device_for(request.user, device_id)
    context = {"device": device, "count": adoption.earlier_count(device), "erasing": adoption.earlier_erasing(device)}
    return render(request, _partial(request, PAGE, "summary"), context)


@require_POST
@parent_required
@mem0_guard
def toy_earlier_adopt(request, device_id):
    device = device_for(request.user, device_id)
    try:
        adoption.earlier_adopt(actor=request.user, device=device)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"They are being added to {device.child.name}'s memories, then erased from "
                                  "under the toy's address.")
    return redirect("memories:toy_earlier", device_id=device.pk)


@require_POST
@parent_required
@mem0_guard
def toy_earlier_erase(request, device_id):
    device = device_for(request.user, device_id)
    try:
        erasure = adoption.earlier_erase(actor=request.user, device=device)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"They are being erased (reference {erasure.reference}).")
    return redirect("memories:toy_earlier", device_id=device.pk)
