"""Django settings, all from SENTINELLE_* environment variables (see README, "Configuration")."""

from __future__ import annotations

import base64
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from sentinelle.core.instance_keys import load_or_create_secret
from sentinelle.core.storage import storages_from_env
from sentinelle.env import (
    SettingError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_redis_url,
    env_secret,
    env_str,
    with_redis_connect_timeout,
)

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("SENTINELLE_DATA_DIR", str(Path.cwd() / "var")))

DEBUG = env_bool("SENTINELLE_DEBUG", False)
# `make demo` sets SENTINELLE_DEMO: plain HTTP on 127.0.0.1. Everything else, including an
# installation with no environment at all, gets the production defaults (HTTPS-only cookies, HSTS).
DEMO = env_bool("SENTINELLE_DEMO", False)
_PRODUCTION = not (DEMO or DEBUG)
# A key shipped with the code would be shared by every installation that forgot to set one:
# without SENTINELLE_SECRET_KEY(_FILE), each installation generates its own in its data directory.
SECRET_KEY = env_secret("SENTINELLE_SECRET_KEY") or base64.urlsafe_b64encode(
    load_or_create_secret(DATA_DIR / "secret_key", 48)).decode("ascii")
# The audit chain's HMAC key and the instance's Ed25519 signing key (PEM) for audit checkpoints;
# when unset, each is generated in DATA_DIR on first use (sentinelle.core.audit).
AUDIT_KEY = env_secret("SENTINELLE_AUDIT_KEY")
INSTANCE_KEY = env_secret("SENTINELLE_INSTANCE_KEY")
ALLOWED_HOSTS = env_list("SENTINELLE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("SENTINELLE_CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = env_str("SENTINELLE_SITE_NAME", "Sentinelle")

INSTALLED_APPS = [
    "sentinelle.core.admin_site.SentinelleAdminConfig",  # django.contrib.admin, 2FA-aware
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "sentinelle.core",
    "sentinelle.incidents",
    "sentinelle.exchange",
    "sentinelle.analysis",
    "sentinelle.reports",
    "sentinelle.actionplan",
    "sentinelle.gateway",
    "sentinelle.observatory",
]

MIDDLEWARE = [
    # First, so that the latency it records (/metrics) covers every other layer.
    "sentinelle.core.metrics.RequestMetricsMiddleware",
    # A view's "database is locked" (SQLite's busy timeout ran out) is a 503 with Retry-After.
    "sentinelle.core.busy.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which reads the whole body: a capped upload is refused unread.
    "sentinelle.exchange.uploads.UploadCapMiddleware",
    # A form body decoded without the standard library's memory blow-up (core/formbody.py).
    "sentinelle.core.formbody.FormBodyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "sentinelle.core.middleware.RequestIdMiddleware",
    "sentinelle.core.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A NUL in the query string is refused (400 naming the parameter) before any view reads
    # it; after the sign-in, so that the page shows who is signed in, and inside the framing
    # protection, which its answer needs as any page does.
    "sentinelle.core.querystring.NulQueryMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "sentinelle.urls"
WSGI_APPLICATION = "sentinelle.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sentinelle.core.context_processors.site",
            ],
        },
    },
]

_DB_CONN_MAX_AGE = env_int("SENTINELLE_DB_CONN_MAX_AGE", 60)
_DATABASE_URL = env_secret("DATABASE_URL", f"sqlite:///{DATA_DIR / 'sentinelle.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(_DATABASE_URL, conn_max_age=_DB_CONN_MAX_AGE)}
except ValueError as exc:
    # One line naming the variable; never the value, which holds the database password.
    # (dj-database-url's own messages name only the scheme.)
    raise SettingError(
        f"DATABASE_URL (or DATABASE_URL_FILE) is not a database URL: {str(exc).rstrip('.')}; "
        "e.g. postgres://user:password@host:5432/sentinelle, with '#', '?', '/' or '@' in the "
        "password percent-encoded") from None
# Not left as a setting: Django's error pages hide settings named like *PASS*, not *_URL.
del _DATABASE_URL
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets readers proceed during a write; the timeout rides out short write bursts
    # (imports hold the lock only while they write, exchange/reading.py); past it a request
    # answers 503 with Retry-After (core/busy.py).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SENTINELLE_DB_BUSY_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # libpq's default is to wait for the kernel's TCP timeout (minutes) on a server that drops
    # packets: /healthz, /metrics and every request would hang that long rather than fail.
    # DATABASE_URL's own ?connect_timeout= wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "dashboard"

# Two-factor sign-in is required for focal points and the Secretariat; only the demo relaxes it.
REQUIRE_2FA = env_bool("SENTINELLE_REQUIRE_2FA", True)
LOCKOUT_ATTEMPTS = env_int("SENTINELLE_LOCKOUT_ATTEMPTS", 5)
LOCKOUT_MINUTES = env_int("SENTINELLE_LOCKOUT_MINUTES", 15)
OTP_TOTP_ISSUER = SITE_NAME

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("fr", _("French")),
    ("es", _("Spanish")),
    ("ar", _("Arabic")),
    ("zh-hans", _("Simplified Chinese")),
    ("ru", _("Russian")),
]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# Dates in lists use each language's short formats (|date:"SHORT_DATETIME_FORMAT"); Django has
# none for Arabic date and time, so sentinelle/formats/ supplies what is missing.
FORMAT_MODULE_PATH = ["sentinelle.formats"]
TIME_ZONE = env_str("SENTINELLE_TIME_ZONE", "UTC")

STATIC_URL = "static/"
# Set for production with `sentinelle collectstatic`; unset, WhiteNoise serves from the package.
STATIC_ROOT = env_str("SENTINELLE_STATIC_ROOT", "") or None
# The project's own assets (site.css) live in the package, not in an app's static/ folder.
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_ROOT = Path(env_str("SENTINELLE_MEDIA_ROOT", str(DATA_DIR / "media")))
# Static files are served by WhiteNoise straight from the package: no collectstatic step.
WHITENOISE_USE_FINDERS = True
# In debug (the demo) a stylesheet edited while the server runs is served whole, not cut off at
# the length WhiteNoise read at start-up.
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded and produced files: MEDIA_ROOT on the local disk, or with SENTINELLE_STORAGE=s3 an
# S3-compatible bucket (SENTINELLE_S3_*), shared by every machine (sentinelle.core.storage).
STORAGES = storages_from_env()

EVIDENCE_MAX_BYTES = env_int("SENTINELLE_EVIDENCE_MAX_BYTES", 25 * 1024 * 1024)
# How many files one message of a report's thread (an answer to a request) may carry.
MESSAGE_MAX_FILES = env_int("SENTINELLE_MESSAGE_MAX_FILES", 10)
# Tell the Secretariat's analysts (those who may read the report) of each new submission.
NOTIFY_ANALYSTS_OF_SUBMISSIONS = env_bool("SENTINELLE_NOTIFY_ANALYSTS_OF_SUBMISSIONS", True)
# An import file (API, web page) above this is refused with 413, from its declared length
# before the body is read (exchange/uploads.py).
IMPORT_MAX_BYTES = env_int("SENTINELLE_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
# Analysis: counts below this, tied to a named State, are shown as "<N" outside the Secretariat.
SMALL_COUNT = env_int("SENTINELLE_SMALL_COUNT", 3)
# MaxMind-format (MMDB) databases for IP enrichment: ASN and country (GeoLite2 or compatible).
GEOIP_ASN_DB = env_str("SENTINELLE_GEOIP_ASN_DB", "")
GEOIP_COUNTRY_DB = env_str("SENTINELLE_GEOIP_COUNTRY_DB", "")
# OONI's measurement API, for `sentinelle observatory corroborate` (observatory/ooni_api.py):
# a mirror or a test server may stand in; each answer is held to a timeout, a size and pages.
OONI_API_URL = env_str("SENTINELLE_OONI_API_URL", "https://api.ooni.io")
OONI_API_TIMEOUT = env_int("SENTINELLE_OONI_API_TIMEOUT", 15)
OONI_API_MAX_BYTES = env_int("SENTINELLE_OONI_API_MAX_BYTES", 5 * 1024 * 1024)
OONI_API_MAX_PAGES = env_int("SENTINELLE_OONI_API_MAX_PAGES", 10)
# Uploads above this stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_BACKEND = env_str("SENTINELLE_EMAIL_BACKEND",
                        "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("SENTINELLE_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("SENTINELLE_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("SENTINELLE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_secret("SENTINELLE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("SENTINELLE_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("SENTINELLE_FROM_EMAIL", "sentinelle@localhost")
BASE_URL = env_str("SENTINELLE_BASE_URL", "http://127.0.0.1:8000")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SENTINELLE_SECURE_COOKIES", _PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Browsers ignore HSTS over plain HTTP, so it costs the demo nothing, but off there it is explicit.
SECURE_HSTS_SECONDS = env_int("SENTINELLE_HSTS_SECONDS", 365 * 24 * 3600 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SENTINELLE_HSTS_INCLUDE_SUBDOMAINS", _PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SENTINELLE_HSTS_PRELOAD", _PRODUCTION)
# Off by default: behind a TLS proxy that does not say the request was HTTPS it would loop.
SECURE_SSL_REDIRECT = env_bool("SENTINELLE_SSL_REDIRECT", False)
# Monitors and Prometheus may ask gunicorn directly, over plain HTTP on loopback (README,
# "Health and metrics"); a redirect to HTTPS would fail their check.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# Trusting X-Forwarded-Proto is only safe when a proxy always sets it, so only when configured:
# SENTINELLE_PROXY_SSL_HEADER=X-Forwarded-Proto (the value meaning HTTPS is "https").
_PROXY_SSL_HEADER = env_str("SENTINELLE_PROXY_SSL_HEADER", "").strip()
if _PROXY_SSL_HEADER and not _PROXY_SSL_HEADER.replace("-", "").isalnum():
    raise SettingError(f"SENTINELLE_PROXY_SSL_HEADER={_PROXY_SSL_HEADER!r} is not a header name "
                       "(e.g. X-Forwarded-Proto)")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER
    else None)
# Every page, demo included: scripts only from static files of this instance (no inline script,
# no eval), nothing framed, no plugins. The downloads set their own, stricter policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SESSION_COOKIE_AGE = env_int("SENTINELLE_SESSION_SECONDS", 8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sentinelle.core.api.authentication.BearerTokenAuthentication",
        "sentinelle.core.api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "sentinelle.core.api.permissions.TokenScopePermission",
    ],
    # Our JSON parser: depth, size, numbers and surrogates checked (core/api/parsers.py). JSON
    # only: a form cannot carry the nested fields (indicators, summary lines) the schema
    # documents; the upload views add multipart themselves (issue 19).
    "DEFAULT_PARSER_CLASSES": ["sentinelle.core.api.parsers.JSONParser"],
    # Tests: APIClient.post(url, dict) sends JSON, as clients do; uploads say format="multipart".
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "sentinelle.core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's, with each operation's errors and anonymous reads (core/api/schema.py)
    "DEFAULT_SCHEMA_CLASS": "sentinelle.core.api.schema.SentinelleAutoSchema",
    "EXCEPTION_HANDLER": "sentinelle.core.api.errors.exception_handler",
    # Request rates (core/api/throttling.py; API_RATES below); 429 with Retry-After beyond.
    "DEFAULT_THROTTLE_CLASSES": ["sentinelle.core.api.throttling.AnonRateThrottle",
                                 "sentinelle.core.api.throttling.UserRateThrottle",
                                 "sentinelle.core.api.throttling.UploadRateThrottle"],
    # Anonymous callers are counted by address: by the connection's (0) unless N reverse
    # proxies in front set X-Forwarded-For, whose N-th address from the right is the caller's.
    "NUM_PROXIES": env_int("SENTINELLE_API_PROXIES", 0),
}


def _rate(name: str, default: str) -> str | None:
    """A rate as DRF reads it, N/second|minute|hour|day ("off": no limit); refused at start."""
    value = env_str(name, default).strip().lower()
    if value == "off":
        return None
    count, _slash, period = value.partition("/")
    if not (count.isdecimal() and period in ("s", "sec", "second", "m", "min", "minute",
                                             "h", "hour", "d", "day")):
        raise SettingError(f"{name}={value!r} is not a rate such as 60/min (or off)")
    return value


# Per scope (core/api/throttling.py). A CIRT's script reading page after page stays far below
# the signed-in rate; uploads are bounded apart, as each may carry tens of MiB.
API_RATES = {
    "anon": _rate("SENTINELLE_API_RATE_ANON", "60/min"),
    "user": _rate("SENTINELLE_API_RATE_USER", "1200/min"),
    "upload": _rate("SENTINELLE_API_RATE_UPLOAD", "30/min"),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sentinelle API",
    "DESCRIPTION": "Report ICT security incidents, evidence and annual summary returns.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from this instance: users on closed or slow networks reach no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a "kind" field with choices; name the bundle's so neither gets a hash.
    "ENUM_NAME_OVERRIDES": {
        "BundleKindEnum": "sentinelle.observatory.models.BundleSubmission.Kind",
        # Probe results and campaign changes share one verdict vocabulary: one enum.
        "VerdictEnum": "sentinelle.observatory.models.Verdict"},
    # Enums of the filters that accept a closed set, from the database (incidents/api/schema.py);
    # the first hook is drf-spectacular's default, kept.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "sentinelle.incidents.api.schema.closed_vocabularies",
                             # OpenAPI links between operations (core/api/links.py).
                             "sentinelle.core.api.links.operation_links"],
    # core/api/converters.py's row id: an integer, as long as the route accepts.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0,
                                        "maximum": 10**18 - 1}},
}

# Long work (imports, reports, federation) runs as tasks. "database" needs a worker process
# (`sentinelle db_worker`); "rq" keeps the queue in Redis (SENTINELLE_REDIS_URL) and needs
# `sentinelle rqworker` processes, as many as wanted, on any machine that reaches Redis, the
# database and the files; "immediate" runs the task in the request, for the demo and tests.
_TASK_BACKENDS = {"database": "django_tasks_db.DatabaseBackend",
                  "rq": "django_tasks_rq.RQBackend",
                  "immediate": "django_tasks.backends.immediate.ImmediateBackend"}
TASK_BACKEND = env_choice("SENTINELLE_TASK_BACKEND", "database", list(_TASK_BACKENDS))
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASK_BACKEND]}}
REDIS_URL = env_redis_url("SENTINELLE_REDIS_URL", "redis://127.0.0.1:6379/0")
# django-rq's queue, read by the RQ backend, the workers, /healthz and /metrics. The default job
# timeout (180 s) would kill a large import or a Council report in the middle; an hour is the
# "something is wrong" bound, after which the job ends failed.
# Connecting gives up after 5 s (unless the URL says otherwise) rather than hang /healthz.
RQ_QUEUES = {"default": {"URL": with_redis_connect_timeout(REDIS_URL, 5), "DEFAULT_TIMEOUT": 3600}}
# `sentinelle rqworker` needs no options: django-tasks-rq's job class runs the task, and
# sentinelle.core.rq.Worker ends a job whose work horse died as failed (see core/rq.py).
RQ = {"JOB_CLASS": "django_tasks_rq.Job", "WORKER_CLASS": "sentinelle.core.rq.Worker"}
# No RQ dashboard in the admin: its pages (not routed here) would requeue or delete jobs
# outside the audit trail. The queue's depth and age are in /healthz and /metrics.
RQ_SHOW_ADMIN_LINK = False
if TASK_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
# /healthz answers "degraded" (503) once the oldest ready task has waited longer than this.
HEALTH_MAX_TASK_AGE = env_int("SENTINELLE_HEALTH_MAX_TASK_AGE", 300)
# /metrics answers loopback clients, and any client sending this bearer token (core/metrics.py).
METRICS_TOKEN = env_secret("SENTINELLE_METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise SettingError("SENTINELLE_METRICS_TOKEN is shorter than 16 characters: give a long "
                       "random secret, e.g. from `openssl rand -hex 32`")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("SENTINELLE_LOG_LEVEL", "WARNING")},
}
