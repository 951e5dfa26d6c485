"""The pages a person sees when something is refused, missing or broken: styled, with the
navigation and a way back, in every mode (``handler403/404/500`` in ``portal.urls``; under
DEBUG, ``portal.middleware.ErrorPagesMiddleware`` sends non-staff here instead of Django's
debug pages). API paths keep the API's JSON error shape.

A form whose CSRF check fails (the page was open too long, or the parent logged in again in
another tab) is recovered as a whole page: htmx reloads the page the parent is on (a fresh
token; the login page first if the session has ended), a plain form gets a page that says
what happened and links back."""

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme

log = logging.getLogger("django.request")

PAGES = {
    403: ("You cannot open this page",
          "Your account does not have access to it. If you think it should, ask the parent who "
          "set up your household, or support."),
    404: ("This page does not exist",
          "The link may be incomplete, or what it pointed to has been deleted (a memory, a toy, "
          "a request)."),
    500: ("Something went wrong on our side",
          "Nothing you did caused this, and nothing was changed. Please try again in a minute; "
          "if it keeps happening, tell support."),
}
CSRF_PAGE = ("This page was open too long",
             "For your safety, forms expire, and logging in again (here or in another tab) renews "
             "them. Nothing was changed: go back, reload the page and try again.")
API_CODES = {403: "forbidden", 404: "not_found", 500: "server_error"}


def same_site_path(request: HttpRequest, url: str | None) -> str | None:
    """``url`` as a path on this site (query kept), or None when it is elsewhere or empty."""
    if not url or not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                                      require_https=request.is_secure()):
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_page(request: HttpRequest, status: int, *, title: str = "", message: str = "") -> HttpResponse:
    default_title, default_message = PAGES[status]
    if _is_api(request):
        return JsonResponse({"detail": title or default_title, "code": API_CODES[status], "field": None},
                            status=status)
    back = same_site_path(request, request.headers.get("Referer"))
    context = {"status": status, "title": title or default_title, "message": message or default_message,
               "back": None if request.method == "GET" and back == request.get_full_path() else back}
    try:
        return render(request, "portal/error.html", context, status=status)
    except Exception:  # the database (roles, session) may be what failed: a page without them
        log.exception("The error page could not be rendered with the navigation")
        html = loader.get_template("portal/error_plain.html").render(context)
        return HttpResponse(html, status=status)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return error_page(request, 404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return error_page(request, 403)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_page(request, 500)


def htmx_page_reload(request: HttpRequest, url: str) -> HttpResponse:
    """An answer to an htmx request that makes the browser load ``url`` as a whole page."""
    response = HttpResponse(status=200)
    response["HX-Redirect"] = url
    return response


def current_page(request: HttpRequest) -> str:
    """The page the person is on: the browser's URL for htmx (``HX-Current-URL``), the
    referring page of a plain form, else the request's own path (for a GET)."""
    if request.headers.get("HX-Request") == "true":
        found = same_site_path(request, request.headers.get("HX-Current-URL"))
    elif request.method != "GET":
        found = same_site_path(request, request.headers.get("Referer"))
    else:
        found = request.get_full_path()
    return found or "/"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: never Django's debug page about cookies."""
    if request.headers.get("HX-Request") == "true" and not _is_api(request):
        if hasattr(request, "_messages"):
            messages.warning(request, "The page was open too long, so it has been reloaded: nothing was changed. "
                                      "Please do that again.")
        return htmx_page_reload(request, current_page(request))
    title, message = CSRF_PAGE
    return error_page(request, 403, title=title, message=message)
