from django.shortcuts import render
from django.views.decorators.http import require_GET

from memories.models import DeletionRequest
from portal.access import support_required


@require_GET
@support_required
def queue(request):
    requests = DeletionRequest.objects.all()
    return render(request, "memories/support_queue.html", {"requests": requests})
