"""Admin pages: who has which role, whether Mem0 and the LLM are set up, and the queue rows
that failed for good (dead), which an admin can send again."""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal import health, queue
from portal.access import Role, admin_required, role_assign, role_of
from portal.errors import ApplicationError


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


@require_GET
@admin_required
def users(request):
    query = (request.GET.get("q") or "").strip()[:100]
    people = get_user_model().objects.prefetch_related("groups").order_by("username")
    if query:
        people = people.filter(Q(username__icontains=query) | Q(email__icontains=query))
    elif request.GET.get("staff") != "0":
        people = people.filter(Q(groups__name__in=["Support", "Admin"]) | Q(is_superuser=True)).distinct()
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    rows = [(person, role_of(person)) for person in page]
    return render(request, "portal/users.html", {"page": page, "rows": rows, "query": query, "roles": Role.choices,
                                                "pager_extra": "&" + urlencode({"q": query}) if query else ""})


@require_POST
@admin_required
def user_role(request, user_id):
    person = get_object_or_404(get_user_model(), pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose parent, support agent or admin.")
        return redirect("staff:users")
    try:
        role_assign(actor=request.user, user=person, role=form.cleaned_data["role"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person.email or person.username} is now {Role(form.cleaned_data['role']).label}.")
    return redirect(f"{reverse('staff:users')}?{urlencode({'q': person.username})}")


@require_GET
@admin_required
def settings_status(request):
    return render(request, "portal/settings_status.html", {
        "mem0": health.check("mem0"),
        "llm": {"configured": bool(settings.LLM_BASE_URL), "base_url": settings.LLM_BASE_URL,
                "model": settings.LLM_MODEL, "has_key": bool(settings.LLM_API_KEY)},
        "other": [
            ("Deletion due within (days)", settings.DELETION_DUE_DAYS),
            ("Exports kept (hours)", settings.EXPORT_TTL_HOURS),
            ("Email", settings.EMAIL_BACKEND.rsplit(".", 2)[-2]),
            ("Debug mode", "on" if settings.DEBUG else "off"),
            ("Session length (hours)", settings.SESSION_COOKIE_AGE // 3600),
            ("Queued work: attempts before it is dead", settings.QUEUE_MAX_ATTEMPTS),
        ],
    })


@require_GET
@admin_required
def dead_rows(request):
    """Work of every queue that failed QUEUE_MAX_ATTEMPTS times: what, for whom, why."""
    return render(request, "portal/dead_rows.html", {"rows": queue.dead_rows(),
                                                     "max_attempts": settings.QUEUE_MAX_ATTEMPTS})


@require_POST
@admin_required
def dead_row_retry(request, queue_key, row_id):
    if queue.queue_for(queue_key) is None:
        raise Http404("No such queue.")
    try:
        sent = queue.dead_row_retry(actor=request.user, key=queue_key, pk=row_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{sent.model._meta.verbose_name.capitalize()} #{row_id} is queued again, "
                                  f"with {settings.QUEUE_MAX_ATTEMPTS} fresh attempts.")
    return redirect("staff:dead_rows")
