"""The parent's memory pages. Thin views: bind a form, call a service or selector, then
render (a partial for htmx) or redirect. Every memory id is checked against the child's
namespaces by the selector or service (404 for anyone else's)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices.selectors import child_for
from memories import categories, exports, selectors, services
from memories.forms import (
    CategoryForm,
    DeleteAllForm,
    ExportForm,
    MemoryAddForm,
    MemoryFilterForm,
    MemoryTextForm,
    RateForm,
)
from memories.gateway import Mem0Unavailable
from memories.models import Job
from portal.access import parent_required
from portal.audit import audit
from portal.errors import ApplicationError
from portal.forms import apply_error
from portal.middleware import HtmxHttpRequest

LIST = "memories/memory_list.html"
ADVANCED_FILTERS = ("category", "device", "kind", "rating", "date_from", "date_to")


def mem0_guard(view):
    """Mem0 unreachable: a clear page (503), never a crash; nothing was changed."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Mem0Unavailable:
            return render(request, "memories/unavailable.html", status=503)

    return wrapper


def _partial(request: HtmxHttpRequest, template: str, name: str) -> str:
    return f"{template}#{name}" if request.htmx else template


def _card(request: HtmxHttpRequest, child, record, **extra) -> HttpResponse:
    cats = categories.for_child(child)
    item = selectors.memory_items(child, [record], categories.labels(cats))[0]
    return render(request, f"{LIST}#memory", {"child": child, "m": item, "categories": cats, **extra})


def _to_list(child, record_id: str | None = None):
    return redirect(reverse("memories:list", args=[child.pk]) + (f"#memory-{record_id}" if record_id else ""))


@require_GET
@parent_required
@mem0_guard
def memory_list(request: HtmxHttpRequest, child_id: int) -> HttpResponse:
    child = child_for(request.user, child_id)
    cats = categories.for_child(child)
    form = MemoryFilterForm(request.GET, child=child, categories=cats)
    flt, query = form.list_filter(), form.semantic_query()
    if query:
        records, page = selectors.child_memory_search(child, query, flt=flt), None
    else:
        page = selectors.child_memory_page(child, selectors.page_number(request.GET.get("page")), flt=flt)
        records = page.items
    items = selectors.memory_items(child, records, categories.labels(cats))
    return render(request, _partial(request, LIST, "results"), {
        "child": child, "form": form, "page": page, "items": items, "query": query, "categories": cats,
        "text_query": flt.text, "filters_open": _filters_open(form),
    })


def _filters_open(form) -> bool:
    """The advanced filters start open when one of them is set (or has an error)."""
    return (form.data.get("mode") == "text" or any(form.data.get(n) for n in ADVANCED_FILTERS)
            or any(n in form.errors for n in ("mode", *ADVANCED_FILTERS)))


@require_GET
@parent_required
@mem0_guard
def memory_detail(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    record = selectors.memory_for_child(child, memory_id)
    return _card(request, child, record) if request.htmx else _detail_page(request, child, record)


@require_GET
@parent_required
@mem0_guard
def memory_history(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    return _detail_page(request, child, selectors.memory_for_child(child, memory_id))


def _detail_page(request: HtmxHttpRequest, child, record) -> HttpResponse:
    cats = categories.for_child(child)
    item = selectors.memory_items(child, [record], categories.labels(cats))[0]
    return render(request, _partial(request, "memories/memory_detail.html", "timeline"), {
        "child": child, "m": item, "categories": cats, "timeline": selectors.memory_timeline(child, record),
    })


@require_http_methods(["GET", "POST"])
@parent_required
@mem0_guard
def memory_edit(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    record = selectors.memory_for_child(child, memory_id)
    form = MemoryTextForm(request.POST or None, initial={"text": record.text})
    if request.method == "POST" and form.is_valid():
        try:
            record = services.memory_correct(actor=request.user, child=child, memory_id=record.id,
                                             text=form.cleaned_data["text"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            if request.htmx:
                return _card(request, child, record, notice="Saved. The toy will use the corrected text.")
            messages.success(request, "Saved. The toy will use the corrected text.")
            return _to_list(child, record.id)
    template = f"{LIST}#memory_form" if request.htmx else "memories/memory_edit.html"
    return render(request, template, {"child": child, "record": record, "form": form})


@require_POST
@parent_required
@mem0_guard
def memory_rate(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    form = RateForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(" ".join(str(e) for errors in form.errors.values() for e in errors))
        services.memory_rate(actor=request.user, child=child, memory_id=memory_id, **form.cleaned_data)
    except ApplicationError as exc:
        return _action_error(request, child, memory_id, exc.message)
    return _action_done(request, child, memory_id, "Rating saved." if form.cleaned_data["rating"] else "Rating removed.")


@require_POST
@parent_required
@mem0_guard
def memory_category(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    form = CategoryForm(request.POST, categories=categories.for_child(child))
    if not form.is_valid():
        return _action_error(request, child, memory_id, "Choose one of the listed categories.")
    services.memory_set_category(actor=request.user, child=child, memory_id=memory_id, **form.cleaned_data)
    return _action_done(request, child, memory_id, "Category changed.")


def _action_done(request: HtmxHttpRequest, child, memory_id: str, notice: str) -> HttpResponse:
    if request.htmx:
        return _card(request, child, selectors.memory_for_child(child, memory_id), notice=notice)
    messages.success(request, notice)
    return _to_list(child, memory_id)


def _action_error(request: HtmxHttpRequest, child, memory_id: str, error: str) -> HttpResponse:
    if request.htmx:
        return _card(request, child, selectors.memory_for_child(child, memory_id), error=error)
    messages.error(request, error)
    return _to_list(child, memory_id)


@require_http_methods(["GET", "POST"])
@parent_required
@mem0_guard
def memory_add(request, child_id):
    child = child_for(request.user, child_id)
    cats = categories.for_child(child)
    form = MemoryAddForm(request.POST or None, child=child, categories=cats)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.memory_add(actor=request.user, child=child, device=form.device_obj(),
                                         text=form.cleaned_data["text"], category=form.cleaned_data["category"])
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Added. The toy can use it from its next conversation.")
            return _to_list(child, record.id)
    return render(request, "memories/memory_add.html", {"child": child, "form": form})


@require_http_methods(["GET", "POST"])
@parent_required
@mem0_guard
def memory_delete(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    record = selectors.memory_for_child(child, memory_id)
    if request.method == "GET":
        return render(request, "memories/memory_delete.html", {"child": child, "record": record})
    services.memories_delete(actor=request.user, child=child, memory_ids=[record.id])
    if request.htmx:
        return HttpResponse("")
    messages.success(request, "Deleted. Nothing of it is kept.")
    return _to_list(child)


@require_POST
@parent_required
@mem0_guard
def memories_delete_selected(request, child_id):
    child = child_for(request.user, child_id)
    try:
        result = services.memories_delete(actor=request.user, child=child,
                                          memory_ids=request.POST.getlist("memory_ids"))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _to_list(child)
    if isinstance(result, Job):
        return redirect("memories:job", job_id=result.pk)
    messages.success(request, f"Deleted {result} memor{'y' if result == 1 else 'ies'}. Nothing of them is kept.")
    return _to_list(child)


@require_http_methods(["GET", "POST"])
@parent_required
def memories_delete_all(request, child_id):
    child = child_for(request.user, child_id)
    form = DeleteAllForm(request.POST or None, child=child)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.memories_delete_all(actor=request.user, child=child, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            return redirect("memories:job", job_id=job.pk)
    return render(request, "memories/memory_delete_all.html", {"child": child, "form": form})


@require_http_methods(["GET", "POST"])
@parent_required
@mem0_guard
def memories_export(request, child_id):
    child = child_for(request.user, child_id)
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fmt = form.cleaned_data["format"]
        job = services.export_start(actor=request.user, child=child, fmt=fmt)
        if job is not None:
            return redirect("memories:job", job_id=job.pk)
        response = StreamingHttpResponse(exports.CHUNKS[fmt](child), content_type=exports.CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{exports.filename(child, fmt)}"'
        return response
    jobs = selectors.jobs_for(request.user).filter(child=child, kind__in=services.EXPORT_KINDS)[:10]
    return render(request, "memories/memory_export.html", {"child": child, "form": form, "jobs": jobs,
                                                          "ttl": settings.EXPORT_TTL_HOURS})


@require_GET
@parent_required
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_for(request.user, job_id)
    return render(request, _partial(request, "memories/job_detail.html", "progress"), {"job": job})


@require_GET
@parent_required
def job_download(request, job_id):
    job = selectors.job_for(request.user, job_id)
    usable = job.state == Job.State.DONE and job.expires_at and job.expires_at > timezone.now()
    if not usable or not exports.export_file_exists(job.file_path):
        return render(request, "memories/job_detail.html", {"job": job, "gone": True}, status=410)
    audit(actor=request.user, action="export.download", household=job.household, child=job.child, count=job.total,
          job_id=job.pk)
    if job.kind == Job.Kind.EXPORT_HOUSEHOLD:
        fmt, name = "json", exports.household_filename(job.household)
    else:
        fmt = "json" if job.kind == Job.Kind.EXPORT_JSON else "csv"
        name = exports.filename(job.child, fmt)
    return FileResponse(exports.export_file_open(job.file_path), as_attachment=True, filename=name,
                        content_type=exports.CONTENT_TYPES[fmt])


@require_GET
@parent_required
def household_activity(request):
    events = Paginator(selectors.household_audit(request.user), 50)
    page = events.get_page(request.GET.get("page"))
    return render(request, "memories/activity.html", {"page": page})
