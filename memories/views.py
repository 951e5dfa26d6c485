"""The parent's memory pages. Thin views: bind a form, call a service or selector, then
render (a partial for htmx) or redirect. Every memory id is checked against the child's
namespaces by the selector or service (404 for anyone else's)."""

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
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
from memories.gateway import PROFILE_KIND, ListFilter, Mem0Unavailable
from memories.models import Job
from portal.access import parent_required
from portal.audit import audit
from portal.confirm import confirm_page, confirmed
from portal.error_views import htmx_page_reload
from portal.errors import ApplicationError
from portal.forms import apply_error
from portal.middleware import HtmxHttpRequest

LIST = "memories/memory_list.html"
ADVANCED_FILTERS = ("category", "device", "kind", "rating", "date_from", "date_to")
CONFIRM_SHOWN = 10  # memories listed on a delete's confirmation page


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
        page = selectors.child_memory_page(child, selectors.page_number(request.GET.get("page")),
                                           after=request.GET.get("after") or None, flt=flt)
        records = page.items
    items = selectors.memory_items(child, records, categories.labels(cats))
    pending = services.pending_deletes(child)
    return render(request, _partial(request, LIST, "results"), {
        "child": child, "form": form, "page": page, "items": items, "query": query, "categories": cats,
        "text_query": flt.text, "filters_open": _filters_open(form),
        "pending_deletes": pending, "pending_ids": selectors.pending_ids(pending),
        "pending_all": any(job.params.get("all") for job in pending),
        "filtered": not query and flt != ListFilter(), "filter_query": _filter_query(form),
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
                return _card(request, child, record, notice=_("Saved. The toy will use the corrected text."))
            messages.success(request, _("Saved. The toy will use the corrected text."))
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
    return _action_done(request, child, memory_id, _("Rating saved.") if form.cleaned_data["rating"] else _("Rating removed."))


@require_POST
@parent_required
@mem0_guard
def memory_category(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    form = CategoryForm(request.POST, categories=categories.for_child(child))
    if not form.is_valid():
        return _action_error(request, child, memory_id, "Choose one of the listed categories.")
    services.memory_set_category(actor=request.user, child=child, memory_id=memory_id, **form.cleaned_data)
    return _action_done(request, child, memory_id, _("Category changed."))


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
            messages.success(request, _("Added. The toy can use it from its next conversation."))
            return _to_list(child, record.id)
    return render(request, "memories/memory_add.html", {"child": child, "form": form})


@require_http_methods(["GET", "POST"])
@parent_required
@mem0_guard
def memory_delete(request: HtmxHttpRequest, child_id: int, memory_id: str) -> HttpResponse:
    child = child_for(request.user, child_id)
    record = selectors.memory_for_child(child, memory_id)
    if request.method == "GET":
        return render(request, "memories/memory_delete.html", {"child": child, "record": record,
                                                               "grace": services.delete_grace().seconds})
    response = _delete_ids(request, child, [record.id])
    return htmx_page_reload(request, response["Location"]) if request.htmx else response


def _memories(n: int) -> str:
    return f"{n} memor{'y' if n == 1 else 'ies'}"


def _delete_consequences(child, n: int) -> list[str]:
    grace = services.delete_grace().seconds
    when = (f"after {grace} seconds; until then you can undo it from the list of memories" if grace
            else "at once; it cannot be undone")
    return [f"{_memories(n).capitalize()} of {child.name} {'is' if n == 1 else 'are'} deleted {when}.",
            "Nothing of them is kept: not their history, not your ratings, not in any export.",
            "The toys no longer recall them; what they learn in later sessions stays."]


def _delete_ids(request, child, ids: list[str]) -> HttpResponse:
    try:
        result = services.memories_delete(actor=request.user, child=child, memory_ids=ids)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _to_list(child)
    if isinstance(result, Job):
        if result.next_attempt_at > timezone.now():  # the list's banner says when, with Undo
            return _to_list(child)
        return redirect("memories:job", job_id=result.pk)
    messages.success(request, f"Deleted {_memories(result)}. Nothing of them is kept.")
    return _to_list(child)


@require_POST
@parent_required
@mem0_guard
def memories_delete_selected(request, child_id):
    """The chosen memories, after a page that lists them and says what will happen."""
    child = child_for(request.user, child_id)
    ids = list(dict.fromkeys(i for i in request.POST.getlist("memory_ids") if i))
    if not ids:
        messages.error(request, "Choose at least one memory.")
        return _to_list(child)
    if not confirmed(request):
        shown = [selectors.memory_for_child(child, i).text for i in ids[:CONFIRM_SHOWN]]
        return confirm_page(request, title=f"Delete {_memories(len(ids))}?", items=shown,
                            more=max(0, len(ids) - CONFIRM_SHOWN), consequences=_delete_consequences(child, len(ids)),
                            button=f"Delete {_memories(len(ids))}", cancel=reverse("memories:list", args=[child.pk]),
                            hidden=[("memory_ids", i) for i in ids])
    return _delete_ids(request, child, ids)


@require_http_methods(["GET", "POST"])
@parent_required
@mem0_guard
def memories_delete_filtered(request, child_id):
    """"Delete everything this filter shows" (a date range is a filter): the same
    confirmation, then the ids shown at that moment go to a delete job with its undo window."""
    child = child_for(request.user, child_id)
    data = request.POST if request.method == "POST" else request.GET
    form = MemoryFilterForm(data, child=child, categories=categories.for_child(child))
    flt = form.list_filter()
    if form.semantic_query() or flt == ListFilter():
        messages.error(request, "Choose a filter first (dates, a category, a toy, a rating or exact words).")
        return _to_list(child)
    ids = services.memory_ids_matching(child, flt)
    if not ids:
        messages.info(request, "This filter shows no memories: nothing to delete.")
        return redirect(reverse("memories:list", args=[child.pk]) + "?" + _filter_query(form))
    if not confirmed(request):
        shown = [r.text for r in selectors.child_memory_page(child, 1, flt=flt, size=CONFIRM_SHOWN).items
                 if r.kind != PROFILE_KIND]
        return confirm_page(request, title=f"Delete the {_memories(len(ids))} this filter shows?", items=shown,
                            more=max(0, len(ids) - len(shown)), consequences=[
                                f"The filter: {_filter_words(form)}. The profile stays.",
                                *_delete_consequences(child, len(ids))],
                            button=f"Delete {_memories(len(ids))}",
                            cancel=reverse("memories:list", args=[child.pk]) + "?" + _filter_query(form),
                            hidden=[(k, v) for k, v in _filter_items(form)])
    return _delete_ids(request, child, ids)


def _filter_items(form) -> list[tuple[str, str]]:
    return [(name, str(form.data.get(name))) for name in ("q", "mode", *ADVANCED_FILTERS) if form.data.get(name)]


def _filter_query(form) -> str:
    return urlencode(_filter_items(form))


def _filter_words(form) -> str:
    """The filter in words, e.g. "learned from 2026-01-01 until 2026-01-31, rating 🚫 Never use"."""
    words = []
    for name in ("date_from", "date_to", "category", "device", "kind", "rating"):
        value = form.value(name)
        if value:
            field = form.fields[name]
            shown = dict(field.choices).get(value, value) if hasattr(field, "choices") else value
            words.append(f"{(field.label or name).lower()} {shown}")
    if form.list_filter().text:
        words.append(f"containing “{form.list_filter().text}”")
    return ", ".join(words)


@require_POST
@parent_required
@mem0_guard
def memories_rate_selected(request, child_id):
    """One rating (👍 / 👎 / 🚫, or none) for every chosen memory."""
    child = child_for(request.user, child_id)
    ids = list(dict.fromkeys(i for i in request.POST.getlist("memory_ids") if i))
    form = RateForm(request.POST)
    if not ids or not form.is_valid():
        messages.error(request, "Choose at least one memory and a rating.")
        return _to_list(child)
    count = services.memories_rate(actor=request.user, child=child, memory_ids=ids,
                                   rating=form.cleaned_data["rating"] or None)
    rating = form.cleaned_data["rating"]
    label = dict(RateForm.base_fields["rating"].choices).get(rating) if rating else None
    messages.success(request, f"{_memories(count).capitalize()} rated {label}." if label
                     else f"Rating removed from {_memories(count)}.")
    return _to_list(child)


@require_POST
@parent_required
def memories_delete_undo(request, job_id):
    """Undo a delete in its window (from the list's banner or the job page)."""
    job = selectors.job_for(request.user, job_id)
    if job.child is None:
        raise Http404("No such delete.")
    try:
        kept = services.memories_delete_cancel(actor=request.user, child=job.child, job_id=job.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("memories:job", job_id=job.pk)
    messages.success(request, f"Undone: nothing was deleted. The toy still remembers the {_memories(kept)}."
                     if kept else "Undone: nothing was deleted.")
    return _to_list(job.child)


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
    return render(request, "memories/memory_delete_all.html", {"child": child, "form": form,
                                                               "grace": services.delete_grace().seconds})


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
