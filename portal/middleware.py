from django.http import HttpRequest
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
