"""Settings, read from the environment (twelve-factor).

With no environment variables at all this is the embedded local default: SQLite under var/,
Celery tasks run eagerly in-process, e-mail written to var/outbox/, DEBUG on, local hosts only.
`DJANGO_ENV=production` selects the production profile, which refuses to start with DEBUG on
or with the default SECRET_KEY.
"""

import ipaddress
import logging
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name, default=()):
    value = os.environ.get(name)
    if not value:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name):
    """A comma-separated list of IP addresses or networks (CIDR), each checked at start-up."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    return networks


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


DJANGO_ENV = os.environ.get("DJANGO_ENV", "local")
if DJANGO_ENV not in {"local", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'local' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

DEFAULT_SECRET_KEY = "local-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", not PRODUCTION)

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses to start with DEBUG on.")
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs SECRET_KEY set to a random value of 32+ characters."
        )

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # django-unfold restyles the admin; it must come before django.contrib.admin.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "import_export",
    "auditlog",
    "audit",
    "programs",
    "codes",
    "participants",
    "conversions",
    "webhooks",
    "ops.apps.OpsConfig",  # deploy checks (ops/checks.py)
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics answer here, before host validation and the HTTPS
    # redirect: probes and scrapers call a machine by its address over plain HTTP.
    "ops.middleware.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "foundation.api_views.ApiJsonErrorsMiddleware",
    "foundation.api_views.ChunkedBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language a person reads: the console's language cookie (unfold's switcher), else the
    # browser's Accept-Language; the widget and e-mails choose theirs themselves.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The console's pages in the signed-in person's own time zone (their settings page).
    "programs.middleware.ConsoleTimeZoneMiddleware",
    # With a read replica: a manager who just changed something reads the primary for a while.
    "foundation.replica.ReadYourWritesMiddleware",
    "audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# Database: SQLite file under var/ by default, anything dj-database-url reads otherwise.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and eager tasks share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Fail fast when the server cannot be reached (a request, a probe of /readyz) instead of
    # waiting for the operating system's TCP timeout; `?connect_timeout=N` in the URL wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if os.environ.get("TEST_DATABASE_NAME") and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Several checkouts testing on one server at once each name their own test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}

# A connection pooler between the processes and PostgreSQL (docs/deploy.md, PgBouncer).
# `pgbouncer`: PgBouncer in transaction mode, where consecutive transactions of one Django
# connection may run on different server connections, so nothing may live on a server
# connection between transactions: no server-side prepared statements (psycopg's
# prepare_threshold), no server-side cursors (Django's .iterator() declares WITH HOLD cursors
# outside a transaction), no session-level SET or session advisory lock (the project uses
# SET LOCAL and transaction advisory locks only), no temporary table (the import stages its
# rows in a table of its own, codes.sql.ImportStaging). Empty: a direct connection (or a
# pooler in session mode, which is the same to the application).
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "").strip().lower()
if DATABASE_POOLER not in {"", "pgbouncer"}:
    raise ImproperlyConfigured(
        f"DATABASE_POOLER must be 'pgbouncer' (transaction mode) or empty, not {DATABASE_POOLER!r}"
    )
if DATABASE_POOLER and not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_POOLER=pgbouncer needs a postgres:// DATABASE_URL.")


def transaction_pooled(database):
    """Settings of a PostgreSQL database reached through PgBouncer in transaction mode."""
    options = database.setdefault("OPTIONS", {})
    if options.get("server_side_binding"):
        raise ImproperlyConfigured(
            "DATABASE_POOLER=pgbouncer: server-side binding prepares statements on a server "
            "connection that the next transaction may not get; leave it off."
        )
    options["prepare_threshold"] = None  # never prepare a statement on the server
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
    return database


if DATABASE_POOLER:
    transaction_pooled(DATABASES["default"])

# A streaming read replica for reads that tolerate a second's lag (foundation.replica): the
# code manager's list, search and exports, the stock page's counts, the /metrics gauges and
# the read API's lists. Everything else reads the primary. Unset: every read on the primary.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
# Reads go to the primary while the replica is further behind than this, or unreachable.
DATABASE_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("DATABASE_REPLICA_MAX_LAG_SECONDS") or 2)
# How often a process measures the replica's lag (and, while it is unreachable, retries it).
DATABASE_REPLICA_CHECK_SECONDS = float(os.environ.get("DATABASE_REPLICA_CHECK_SECONDS") or 1)
# After a manager changes something, their reads stay on the primary this long.
DATABASE_REPLICA_PIN_SECONDS = env_int("DATABASE_REPLICA_PIN_SECONDS", 5)
if DATABASE_REPLICA_URL:
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs a postgres:// DATABASE_URL.")
    _replica = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    if not _replica["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a postgres:// URL.")
    # An unreachable replica is noticed within 2 s and read around (foundation.replica).
    _replica.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    _replica["CONN_HEALTH_CHECKS"] = True
    # Tests read the replica's copy of the test database (no test database is made on it).
    _replica["TEST"] = {"MIRROR": "default"}
    if DATABASE_POOLER:
        transaction_pooled(_replica)
    DATABASES["replica"] = _replica
DATABASE_ROUTERS = ["foundation.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (and rate-limit counters): Redis when REDIS_URL is set, local memory otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Short socket timeouts: an unreachable Redis fails a cache call fast, and rate limits fail open
# (programs.ratelimit) instead of holding requests.
REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS") or 2)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The languages offered, in the console, the widget and the e-mails. Adding one is a .po file
# under locale/ (compiled by `make install`, foundation/translations.py) and a line here.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("zh-hans", "简体中文"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates and times in the console read "2026-12-07 13:19 CET" in every language, in the manager's
# own time zone (foundation.wording.CONSOLE_DATETIME_FORMAT, taken by config/formats/).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without collectstatic (runserver or gunicorn on a fresh clone) WhiteNoise serves from the
# finders, so the embedded default needs no build step.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# Logging in at /admin/login/ without a `next` lands on the console, not on Django's default
# /accounts/profile/ (which this project does not have).
LOGIN_REDIRECT_URL = "admin:index"

# Where e-mails link back to (low-stock alerts link to the pool's admin pages).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# The admin console (django-unfold). Its CSS, fonts and scripts ship in its package and are served
# by WhiteNoise like every other static file: nothing is loaded from a CDN.
UNFOLD = {
    "SITE_TITLE": _("Referral promo codes"),
    "SITE_HEADER": _("Referral promo codes"),
    "SITE_SYMBOL": "redeem",
    "SITE_FAVICONS": [
        {
            "rel": "icon",
            "type": "image/svg+xml",
            "href": lambda request: static("console/favicon.svg"),
        }
    ],
    # The console's own rules (phones: nothing wider than the screen).
    "STYLES": [lambda request: static("console/console.css")],
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    # The manager's own language (settings.LANGUAGES), kept by Django's set_language.
    "SHOW_LANGUAGES": True,
    # The account menu: the manager's own settings page (language and time zone).
    "ACCOUNT": {
        "navigation": [
            {"title": _("Language and time zone"), "link": reverse_lazy("console-settings")},
            {"title": _("Change password"), "link": reverse_lazy("admin:password_change")},
        ]
    },
    # The index shows each managed program's stock (codes.dashboard).
    "DASHBOARD_CALLBACK": "codes.dashboard.dashboard_callback",
}

# E-mail: a file outbox by default; SMTP when EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "referrals@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = os.environ.get(
        "EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
    )
    EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "outbox"))

# Conversions on PostgreSQL: the attribution as one database call (conversions_attribute, a
# function kept in a migration). Off: the Python path, as on SQLite (tests run both).
CONVERSIONS_FAST_PATH = env_bool("CONVERSIONS_FAST_PATH", True)

# Celery: eager in-process when no broker is configured.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# An unreachable broker fails an enqueue within about a second (foundation.tasks logs it and the
# request goes on) rather than retrying for long.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
# Queues (docs/deploy.md, Celery queues): tasks of one kind wait in their own queue, so a
# million-code import does not hold up a low-stock e-mail or an advocate's top-up. A worker
# started without -Q consumes every queue below; `-Q imports` dedicates one to a kind. A task
# picks its queue here, by name; a task not listed goes to the default queue, "celery". (With
# no broker, tasks run eagerly in-process and queues do not matter.)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in (
        "celery",  # everything not routed below
        "imports",  # code files imported in the background
        "alerts",  # stock checks and low-stock e-mails
        "topups",  # advocates topped up with codes, waiting rewards filled
        "webhooks",  # webhook deliveries: a shop's slow receiver waits here, not beside the rest
    )
]
CELERY_TASK_ROUTES = {
    "codes.batch_process_upload": {"queue": "imports"},
    "codes.process_waiting_uploads": {"queue": "imports"},
    "codes.sweep_waiting_uploads": {"queue": "imports"},
    "codes.send_stock_alert": {"queue": "alerts"},
    "codes.check_code_stock": {"queue": "alerts"},
    "codes.send_leak_alert": {"queue": "alerts"},
    "conversions.detect_leaked_codes": {"queue": "alerts"},
    "codes.top_up_short_advocates": {"queue": "topups"},
    "codes.pool_batch_landed": {"queue": "topups"},
    "participants.top_up_program_advocates": {"queue": "topups"},
    "participants.rewards_fill_waiting": {"queue": "topups"},
    "webhooks.deliveries_send": {"queue": "webhooks"},
    "webhooks.deliveries_sweep": {"queue": "webhooks"},
    "webhooks.deliveries_prune": {"queue": "webhooks"},
    "codes.top_up_expired_holders": {"queue": "topups"},
    "codes.announce_expired_codes": {"queue": "topups"},
}
CELERY_BEAT_SCHEDULE = {
    # Catch a low-stock crossing from any path (and re-arm alerts after stock rose).
    "codes-check-stock": {"task": "codes.check_code_stock", "schedule": 15 * 60.0},
    # Safety net for the top-up that runs when a batch lands.
    "codes-top-up-short-advocates": {"task": "codes.top_up_short_advocates", "schedule": 60 * 60.0},
    # Multi-use codes used by more customers in a day than their program allows (leaked).
    "conversions-detect-leaked-codes": {
        "task": "conversions.detect_leaked_codes",
        "schedule": 5 * 60.0,
    },
    # Codes that expired are announced (code.expired), and advocates whose referral code
    # expired get a fresh one (codes.tasks).
    "codes-top-up-expired-holders": {"task": "codes.top_up_expired_holders", "schedule": 15 * 60.0},
    "rewards-release-due": {"task": "participants.rewards_release_due", "schedule": 15 * 60},
    # Safety net for the fill that runs when a fuel-tank batch lands.
    "rewards-fill-waiting": {"task": "participants.rewards_fill_waiting", "schedule": 15 * 60},
    # Webhook retries, and events whose send was lost while the broker was down.
    "webhooks-sweep": {"task": "webhooks.deliveries_sweep", "schedule": 60.0},
    "webhooks-prune": {"task": "webhooks.deliveries_prune", "schedule": 24 * 3600.0},
    # Admin uploads whose import task was never enqueued (broker unreachable at the time), or
    # whose worker died mid-import.
    "codes-process-waiting-uploads": {
        "task": "codes.process_waiting_uploads",
        "schedule": 5 * 60.0,
    },
    # Admin uploads previewed and never confirmed: their files are removed once expired.
    "codes-sweep-waiting-uploads": {"task": "codes.sweep_waiting_uploads", "schedule": 60 * 60.0},
}

# The audit trail (django-auditlog, with the audit app's entry model): who changed programs,
# pools, batches, API keys, managers, rewards and voids. Entries of one request, command run or
# task share a correlation id.
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
# auditlog's own entry table would stay empty beside ours (its migrations create it even when
# the model is swapped): its migrations are not run, so the table never exists.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_CID_GETTER = "audit.context.correlation_id"
# A changed foreign key is recorded as the object's name (the pool, the user), not its id.
AUDITLOG_USE_FK_STRING_REPRESENTATION = True

# CORS: an allowlist, never a wildcard.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "foundation.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Referral promo codes API",
    "DESCRIPTION": "Server API (program API keys) and widget API (participant tokens).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAS_VERSION": "3.1.0",
    "ENUM_NAME_OVERRIDES": {
        "PoolKindEnum": "codes.models.PoolKind",
        "RewardKindEnum": "programs.models.RewardKind",
        "CodeUsageEnum": "programs.models.CodeUsage",
        "CodeStatusEnum": "codes.models.CodeStatus",
        "ActionMethodEnum": "conversions.api_impact.OVERRIDABLE_METHODS",
        "RewardStatusEnum": "participants.models.RewardStatus",
        "ReferralStatusEnum": "participants.models.ReferralStatus",
        "ConversionStatusEnum": "conversions.models.ConversionStatus",
    },
}

# Uploads: refuse absurd request bodies early; big code files go through import_codes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Code files: admin uploads above CODES_UPLOAD_ASYNC_BYTES are imported by a Celery task (with
# progress on the batch page); the admin refuses files above CODES_UPLOAD_MAX_BYTES (use
# import_codes). XLS files, read whole, are refused above CODES_WHOLE_FILE_MAX_BYTES.
CODES_UPLOAD_ASYNC_BYTES = env_int("CODES_UPLOAD_ASYNC_BYTES", 5 * 1024 * 1024)
CODES_UPLOAD_MAX_BYTES = env_int("CODES_UPLOAD_MAX_BYTES", 100 * 1024 * 1024)
CODES_WHOLE_FILE_MAX_BYTES = env_int("CODES_WHOLE_FILE_MAX_BYTES", 10 * 1024 * 1024)
# What any code file (admin or import_codes) may expand to, whatever its size on disk: rows
# read, columns read (cells further right are never read), the length of one cell, and the bytes
# a zipped workbook (XLSX, ODS) unpacks to. A file past one is refused whole, naming the limit.
CODES_UPLOAD_MAX_ROWS = env_int("CODES_UPLOAD_MAX_ROWS", 10_000_000)
CODES_UPLOAD_MAX_COLUMNS = env_int("CODES_UPLOAD_MAX_COLUMNS", 50)
CODES_UPLOAD_MAX_CELL_CHARS = env_int("CODES_UPLOAD_MAX_CELL_CHARS", 1000)
CODES_UPLOAD_MAX_EXPANDED_BYTES = env_int("CODES_UPLOAD_MAX_EXPANDED_BYTES", 512 * 1024 * 1024)
# The upload preview checks duplicates and codes already in the program over this many rows
# (the import itself checks them all).
CODES_PREVIEW_CHECKED_ROWS = env_int("CODES_PREVIEW_CHECKED_ROWS", 200_000)

if PRODUCTION:
    # Behind a TLS-terminating proxy or load balancer that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Operations (docs/deploy.md) --------------------------------------------------------------

# Prometheus /metrics: off unless METRICS_ENABLED, and then served only to METRICS_ALLOWED_IPS
# (addresses or networks, matched against the connecting address, never X-Forwarded-For).
# The business gauges are read from the database at most once per METRICS_CACHE_SECONDS,
# shared through the cache (Redis) by every web process.
METRICS_ENABLED = env_bool("METRICS_ENABLED", False)
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS")
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 30)
if METRICS_ENABLED and not METRICS_ALLOWED_IPS:
    raise ImproperlyConfigured(
        "METRICS_ENABLED needs METRICS_ALLOWED_IPS: the addresses (or networks) of the "
        "Prometheus servers allowed to read /metrics, comma-separated."
    )
if METRICS_ENABLED:
    # Request and database metrics from django-prometheus.
    MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    _vendor = DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if _vendor in {"postgresql", "sqlite3"}:
        DATABASES["default"]["ENGINE"] = f"django_prometheus.db.backends.{_vendor}"

# Error reporting to Sentry: off unless SENTRY_DSN is set. No personal data is sent.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    try:
        _traces_sample_rate = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0)
    except ValueError:
        raise ImproperlyConfigured(
            "SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1"
        ) from None
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", DJANGO_ENV),
        release=os.environ.get("SENTRY_RELEASE") or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,  # no user, cookies or client address
        max_request_body_size="never",  # no request bodies (participants' e-mails, orders)
        traces_sample_rate=_traces_sample_rate,
    )

# Logs go to stderr: plain lines by default, one JSON object a line with LOG_FORMAT=json.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "foundation.log_format.JsonFormatter"},
    },
    # Participant ids in API paths are written as opaque references (foundation.access_log).
    "filters": {"opaque_paths": {"()": "foundation.access_log.OpaqueParticipantPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["opaque_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own lines go through the one handler above (its default console handler
        # would print them a second time, unfiltered).
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# Python warnings become log records too, so that every line is JSON.
logging.captureWarnings(LOG_FORMAT == "json")
# A Celery worker keeps these handlers instead of installing its own (plain) ones.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Widget API: requests per participant (program + participant id), e.g. "120/min".
WIDGET_API_RATE = os.environ.get("WIDGET_API_RATE", "120/min")
