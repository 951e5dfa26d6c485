from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django_htmx.middleware import HtmxDetails


class NoStoreMiddleware:
    """Nothing a logged-in person sees, and no API answer, is kept by a browser or a proxy:
    a child's memories must not come back from a shared computer's cache after logout.
    (The ``Cache-Control`` of ``never_cache``, for every such response in one place.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # The API is checked by path first: a toy server's call has no session to load.
        if request.path.startswith("/api/") or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


class ContentSecurityPolicyMiddleware:
    """Only our own scripts and styles run; no inline script, no third-party origin."""

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "object-src 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            response.setdefault("Content-Security-Policy", self.POLICY)
        return response


class HtmxHttpRequest(HttpRequest):
    """The request type of views that answer htmx (django-htmx's documented pattern)."""

    htmx: HtmxDetails


class PageRequest(HtmxDetails):
    """An htmx history restore (Back to a URL htmx pushed, with no snapshot in the browser):
    htmx swaps the whole body, so the views must answer the whole page, as for a plain GET."""

    def __bool__(self) -> bool:
        return False


class HtmxMiddleware:
    """``request.htmx`` (django-htmx), with the two rules of every URL that answers a partial
    for htmx and a page otherwise, kept here once instead of in each view: a history restore
    is not an htmx request, and every page varies on ``HX-Request``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        details = HtmxDetails(request)
        request.htmx = PageRequest(request) if details.history_restore_request else details
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            patch_vary_headers(response, ("HX-Request",))
        return response


class LoginRedirectMiddleware:
    """A request that needs a login comes back, after it, to the page the person was on:

    * htmx: the whole page goes to the login page (``HX-Redirect``), never the login form
      inside a memory card; ``next`` is the browser's page (``HX-Current-URL``), not the
      partial's URL;
    * a plain form's POST: ``next`` is the page the form was on (its ``Referer``), not the
      POST-only URL that would answer 405 after logging in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 302 or not self._to_login(response):
            return response
        from portal.error_views import current_page, htmx_page_reload

        if request.headers.get("HX-Request") == "true" or request.method != "GET":
            url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': current_page(request)})}"
            if request.headers.get("HX-Request") == "true":
                return htmx_page_reload(request, url)
            response["Location"] = url
        return response

    @staticmethod
    def _to_login(response) -> bool:
        return urlsplit(response.get("Location", "")).path == resolve_url(settings.LOGIN_URL)


class ErrorPagesMiddleware:
    """Under DEBUG (``make run``), people who are not staff get the styled 404 and 500 pages
    too, not Django's debug pages (which show the URL list and settings); staff keep the
    debug pages. Without DEBUG, Django's handlers (``portal.urls``) already do this."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # No URL matched (a view's own 404 answer has a resolver_match and is left alone).
        if (response.status_code == 404 and getattr(request, "resolver_match", None) is None
                and self._styled(request)):
            from portal.error_views import page_not_found

            return page_not_found(request)
        return response

    def process_exception(self, request, exception):
        if not self._styled(request):
            return None
        from portal import error_views

        if isinstance(exception, Http404):
            return error_views.page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return None  # Django answers handler403 in every mode
        error_views.log.error("Internal Server Error: %s", request.path, exc_info=exception,
                              extra={"status_code": 500, "request": request})
        return error_views.server_error(request)

    @staticmethod
    def _styled(request) -> bool:
        user = getattr(request, "user", None)
        return settings.DEBUG and not request.path.startswith("/api/") and not (user and user.is_staff)
