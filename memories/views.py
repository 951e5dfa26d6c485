from django.shortcuts import render
from django.views.decorators.http import require_GET

from devices.selectors import child_for
from memories import selectors
from portal.access import parent_required


@require_GET
@parent_required
def memory_list(request, child_id):
    child = child_for(request.user, child_id)
    page = selectors.child_memory_page(child, selectors.page_number(request.GET.get("page")))
    template = "memories/memory_list.html#results" if request.htmx else "memories/memory_list.html"
    return render(request, template, {"child": child, "page": page})
