"""The child's "at a glance" page: what the toy knows, in one screen (``memories.glance``)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from devices.selectors import child_for
from memories.glance import BLOCKED, child_glance
from memories.views import mem0_guard
from portal.access import parent_required


@require_GET
@parent_required
@mem0_guard
def child_glance_page(request: HttpRequest, child_id: int) -> HttpResponse:
    child = child_for(request.user, child_id)
    return render(request, "memories/glance.html", {"child": child, "glance": child_glance(child),
                                                    "blocked_rating": BLOCKED.ratings[0]})
