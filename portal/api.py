"""The one NinjaAPI (``/api/v1/``) and its error map.

Every error is JSON ``{"detail": …, "code": …, "field": …}``: a domain refusal 400/409/422,
invalid input 422 (naming the field), unknown objects 404, Mem0 away 503 with
``Retry-After``, bodies over ``API_MAX_BODY_BYTES`` 413 (checked by
``BodySizeLimitMiddleware`` before anything reads the body), a method a route does not
take 405 with ``Allow`` (ninja answers that one in plain text: ``ApiMethodNotAllowedMiddleware``)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal.errors import ApplicationError, ServiceUnavailable

RETRY_AFTER_SECONDS = 30
# The Mem0-compatible routes (memories.mem0_compat): MemoryClient(host="<portal>/api/v1/mem0").
MEM0_PREFIX = "/api/v1/mem0/"

api = NinjaAPI(
    title="Memory portal API",
    version="1",
    description="What the toy servers ask the portal: a device's configuration, the memories to inject "
                "into a session, and finished conversations to learn from. Authenticate with a device or "
                "fleet token: `Authorization: Bearer <token>` (or `X-Device-Token`).",
    urls_namespace="api",
    docs=Swagger(),  # assets from ninja's own static files (ninja is in INSTALLED_APPS): no CDN
    docs_url="/docs",
)


def _error(request, status: int, detail: str, *, code: str, field: str | None = None, **extra):
    return api.create_response(request, {"detail": detail, "code": code, "field": field, **extra}, status=status)


@api.exception_handler(ApplicationError)
def _application_error(request, exc: ApplicationError):
    status = exc.extra.get("status") or (422 if exc.field else 400)
    return _error(request, status, exc.message, code=exc.code, field=exc.field)


def _field_of(loc) -> str:
    parts = list(loc or [])
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else parts[1:]  # ["body", <param>, field, …]
    elif parts and parts[0] in ("query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors = [{"field": _field_of(e.get("loc")), "message": e.get("msg", "Invalid value.")} for e in exc.errors]
    first = errors[0] if errors else {"field": None, "message": "Invalid input."}
    return _error(request, 422, f"{first['field'] or 'input'}: {first['message']}", code="invalid",
                  field=first["field"], errors=errors)


@api.exception_handler(ServiceUnavailable)
def _mem0_unavailable(request, exc):
    response = _error(request, 503, "The memory store is unavailable. Try again shortly.", code="mem0_unavailable")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(Http404)
def _not_found(request, exc):
    code = getattr(exc, "code", "not_found")
    return _error(request, 404, str(exc) or "Not found.", code=code)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    response = _error(request, 401, "A valid device or fleet token is required.", code="unauthenticated")
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = {400: "bad_request", 405: "method_not_allowed", 413: "too_large", 429: "throttled"}
    if exc.status_code == 400 and "parse" in exc.message.lower():
        return _error(request, 400, "The body is not valid JSON.", code="malformed_json")
    return _error(request, exc.status_code, exc.message, code=code.get(exc.status_code, "error"))


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    # Only Django's own limit raises this (the middleware refuses other API bodies first).
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _error(request, 413, f"The body is larger than {limit} bytes.", code="too_large")


def _too_large_response() -> JsonResponse:
    limit = settings.API_MAX_BODY_BYTES
    return JsonResponse({"detail": f"The body is larger than {limit} bytes.", "code": "too_large", "field": None},
                        status=413)


class ApiMethodNotAllowedMiddleware:
    """ninja answers a wrong method before any exception handler, in plain text: give it
    the API's error shape (and keep ``Allow``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if (request.path.startswith("/api/") and response.status_code == 405
                and not response.get("Content-Type", "").startswith("application/json")):
            allowed = response.get("Allow", "")
            methods = ", ".join(m.strip() for m in sorted(allowed.split(",")) if m.strip())
            detail = f"{request.method} is not allowed here" + (f"; use {methods}." if methods else ".")
            response = JsonResponse({"detail": detail, "code": "method_not_allowed", "field": None}, status=405)
            if allowed:
                response["Allow"] = allowed
        return response


class BodySizeLimitMiddleware:
    """Refuse API bodies over the limit from their Content-Length, before anything reads
    them. (Without a Content-Length Django reads no body at all, so that is the limit.)
    The Mem0-compatible routes trim a long session instead (toy servers that speak Mem0 send
    it once and never retry): there only Django's own DATA_UPLOAD_MAX_MEMORY_SIZE applies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path.startswith("/api/") and not request.path.startswith(MEM0_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.API_MAX_BODY_BYTES:
                return _too_large_response()
        return self.get_response(request)


api.add_router("/", "memories.api.router")
api.add_router(MEM0_PREFIX.removeprefix("/api/v1"), "memories.mem0_compat.router")
