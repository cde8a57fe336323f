"""Colloquy settings: one module, driven by environment variables.

The defaults give the zero-setup site (`make run`): SQLite, local-memory cache, Celery tasks run
in-process. Production differs only by environment variables; the README lists every one.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from config.logs import formatter_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# pytest (>= 8.2) exports PYTEST_VERSION; the suite runs with DEBUG off, like production.
TESTING = "PYTEST_VERSION" in os.environ

DEBUG = env.bool("DEBUG", default=False)
# With DEBUG on, the site still shows its own 404/500 pages (config/errors.py) unless this is on.
DEBUG_TECHNICAL_ERRORS = env.bool("DEBUG_TECHNICAL_ERRORS", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "django-insecure-colloquy-development-key-never-use-in-production"
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. It is required when DEBUG is off: export SECRET_KEY to a "
            "long random string (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development."
        )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG or TESTING else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin.ColloquyAdminConfig",  # django.contrib.admin, with the site's name
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "accounts",
    "forum",
    "notifications",
    "moderation",
    "demo",
    "config.apps.ConfigConfig",  # the project's deploy checks (config/checks.py)
]

MIDDLEWARE = [
    # /healthz and /readyz, before the host check and the HTTPS redirect (probes come by IP,
    # in plain HTTP) and before anything that reads a session or counts a rate limit.
    "config.health.HealthMiddleware",
    # /metrics (Bearer METRICS_TOKEN), and the count and time of every request below.
    "config.metrics.MetricsMiddleware",
    "config.logs.RequestIdMiddleware",  # X-Request-ID, on every log line of the request
    "config.replicas.ReplicaMiddleware",  # with a read replica: may this request read it?
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.PrivateForSignedInMiddleware",  # Cache-Control: private when signed in
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "config.middleware.MalformedInputMiddleware",  # 400 for bytes that are not UTF-8, or NUL
    "config.middleware.RefusedFormMiddleware",  # 400 for allauth's and the admin's refused forms
    "config.errors.SiteErrorPagesMiddleware",  # DEBUG only: the site's 404/500, not Django's
    "moderation.middleware.RateLimitMiddleware",
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
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite is the zero-setup default. It holds concurrent writers (two gunicorn workers, a
# Celery worker) because: WAL lets readers run beside the writer; IMMEDIATE takes the write
# lock when a transaction starts, so two writers queue instead of deadlocking on a lock
# upgrade (the classic "database is locked"); the busy timeout makes the queue wait.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
else:
    # PostgreSQL. Persistent connections, checked before reuse (a restarted server costs one
    # reconnect, not an error); a server that doesn't answer fails the connect in
    # DATABASE_CONNECT_TIMEOUT seconds instead of hanging the request.
    def _postgres(db: dict) -> dict:
        db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        db["CONN_HEALTH_CHECKS"] = True
        options = db.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
        if DATABASE_POOL:
            # Django's own pool (psycopg_pool) in each process; it replaces persistent
            # connections, which Django then requires to be off.
            options["pool"] = {"min_size": 0, "max_size": DATABASE_POOL, "timeout": 10}
            db["CONN_MAX_AGE"] = 0
        if PGBOUNCER:
            # PgBouncer in transaction pooling mode gives each transaction any server
            # connection: nothing may outlive a transaction on the server. No server-side
            # cursors (.iterator() would leave a named cursor behind) and no prepared
            # statements (psycopg's prepare_threshold=None, which is Django's default, said
            # explicitly so that nothing turns it on).
            db["DISABLE_SERVER_SIDE_CURSORS"] = True
            options["prepare_threshold"] = None
        return db

    # PGBOUNCER=true when DATABASE_URL points at PgBouncer in transaction mode;
    # DATABASE_POOL=N for a pool of up to N connections per process (not with PgBouncer, which
    # is the pool then).
    PGBOUNCER = env.bool("PGBOUNCER", default=False)
    DATABASE_POOL = env.int("DATABASE_POOL", default=0)
    if PGBOUNCER and DATABASE_POOL:
        raise ImproperlyConfigured("PGBOUNCER and DATABASE_POOL: PgBouncer is the pool; set one")
    _postgres(DATABASES["default"])
    # An optional streaming read replica: reads of requests that may see a second-old copy go
    # there; a reader who just wrote reads the primary (config/replicas.py).
    DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
    if DATABASE_REPLICA_URL:
        DATABASES["replica"] = _postgres(env.db_url_config(DATABASE_REPLICA_URL))
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
        DATABASE_ROUTERS = ["config.replicas.PrimaryReplicaRouter"]
# Prometheus metrics at /metrics for whoever sends `Authorization: Bearer <this>`; off when unset.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=10)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions ------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The master's name that the sentinels monitor, for REDIS_URL / CELERY_BROKER_URL of the form
# sentinel://host:26379;sentinel://host2:26379/0 (config/cache.py).
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "colloquy",
        }
    }
    if REDIS_URL.startswith("sentinel://"):
        CACHES["default"]["OPTIONS"] = {"service_name": REDIS_SENTINEL_MASTER}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth and accounts ----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

SITE_ID = 1
SITE_NAME = "Colloquy"  # the Site row's name (accounts' migration 0004): allauth's emails say it
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
# Sign-up details come from accounts; account emails go out through the notification outbox.
ACCOUNT_ADAPTER = "notifications.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Colloquy] "
ACCOUNT_PRESERVE_USERNAME_CASING = False
# allauth's rate limits are on by default; they are stated here so they are visible.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "change_password": "5/m/user",
}

# --- Email (Django 6.1 mailers) ---------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Colloquy <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_smtp_host = env.str("EMAIL_HOST", default="")
if _smtp_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _smtp_host,
                "port": env.int("EMAIL_PORT", default=587),
                "username": env.str("EMAIL_HOST_USER", default=""),
                "password": env.str("EMAIL_HOST_PASSWORD", default=""),
                "use_tls": env.bool("EMAIL_USE_TLS", default=True),
                "timeout": env.int("EMAIL_TIMEOUT", default=20),
            },
        }
    }
else:
    # No SMTP server configured: mails are printed on the console (fine for `make run`).
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# Without a broker, tasks run in-process, after the commit that enqueued them.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker, may the admin's legacy upload import inside the web request? Yes under
# `make run` (runserver has no timeout); no in production, where gunicorn's timeout would kill
# a long import half way: the upload form then says to use a worker or `manage.py import_legacy`.
IMPORT_IN_WEB_PROCESS = env.bool("IMPORT_IN_WEB_PROCESS", default=DEBUG)
# Processes an admin upload's import (the Celery task) starts to parse and render ahead. 1 by
# default: a Celery worker already runs as many tasks as it has cores, and its prefork children
# may not start processes anyway. `manage.py import_legacy --jobs` defaults to the cores.
IMPORT_JOBS = env.int("IMPORT_JOBS", default=1)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("sentinel://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"master_name": REDIS_SENTINEL_MASTER}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Re-enqueue emails still pending (broker was down, a worker died).
    "sweep-pending-emails": {"task": "notifications.sweep_pending_emails", "schedule": 60.0},
    # Re-enqueue legacy imports whose worker died (lease expired) or whose task was lost.
    "sweep-import-jobs": {"task": "forum.sweep_import_jobs", "schedule": 60.0},
    # Dispatch forum events (outbox rows) whose task was lost.
    "sweep-events": {"task": "forum.sweep_events", "schedule": 60.0},
    "daily-digest": {
        "task": "notifications.send_digests",
        "schedule": crontab(hour=env.int("DIGEST_HOUR_UTC", default=0), minute=0),
    },
}

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Uploads of legacy pages for the importer: private (no URL, outside MEDIA_ROOT), deleted when
# their job ends. With workers on other machines, point IMPORT_ROOT at a volume they share.
IMPORT_ROOT = Path(env.str("IMPORT_ROOT", default=str(BASE_DIR / "var" / "imports")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "imports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": IMPORT_ROOT},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not (DEBUG or TESTING)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security --------------------------------------------------------------------------------
HTTPS = env.bool("HTTPS", default=not (DEBUG or TESTING))
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
# Behind a reverse proxy: trust its X-Forwarded-Proto, and take the client's address (for rate
# limits, ours and allauth's) from X-Forwarded-For: the address TRUSTED_PROXY_COUNT entries from
# its end, the one our nearest proxy saw (1 = one proxy appends; a CDN in front of it makes 2).
# One rule for both (accounts/ratelimit.client_ip; the account adapter uses it for allauth).
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if BEHIND_PROXY else 0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Enforced CSP: scripts only from us and with the request's nonce; no inline handlers can run.
# Avatars of imported legacy users are external URLs, hence https: images.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "https:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Logging ---------------------------------------------------------------------------------
# Every line carries the request's id (config/logs.py, also in Celery tasks); LOG_FORMAT=json for
# one JSON object per line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"site": formatter_config(env.str("LOG_FORMAT", default="text"))},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "site"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {},
}
if CELERY_TASK_ALWAYS_EAGER:
    # Tasks run in the request's process: a line per finished task, and kombu's note that the
    # (never used) broker connection has no host name, would bury runserver's own output.
    LOGGING["loggers"] |= {
        "celery.app.trace": {"level": "WARNING"},
        "kombu.connection": {"level": "ERROR"},
    }

# --- Colloquy --------------------------------------------------------------------------------
COLLOQUY_DEMO_ADMIN_EMAIL = "admin@example.com"


def site_url_for(addr: str) -> str:
    """The address a browser reaches `runserver ADDR` at: "8080" and "0.0.0.0:8080" are
    http://127.0.0.1:8080 (a wildcard is where the server listens, not where to go)."""
    host, _, port = addr.strip().rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104 - recognised, not bound to
        host = "127.0.0.1"
    return f"http://{host}:{port}"


# The site's address as readers reach it: links in emails are built on it. `make run` passes
# the address runserver listens on (ADDR), so the demo's emails link to where it runs.
SITE_URL = env.str("SITE_URL", default="") or site_url_for(
    env.str("ADDR", default="127.0.0.1:8000")
)
# Beyond this many immediate emails in an hour, a person's notifications wait for the digest.
NOTIFICATION_EMAILS_PER_HOUR = env.int("NOTIFICATION_EMAILS_PER_HOUR", default=10)
# Moderation and spam control.
REPORTS_TO_HIDE = env.int("REPORTS_TO_HIDE", default=3)  # distinct trusted reporters
TRUSTED_AFTER_DAYS = env.int("TRUSTED_AFTER_DAYS", default=2)  # account age to be "trusted"
HOLD_FIRST_COMMENTS_WITH_LINKS = env.int("HOLD_FIRST_COMMENTS_WITH_LINKS", default=3)
DUPLICATE_WINDOW_SECONDS = env.int("DUPLICATE_WINDOW_SECONDS", default=600)
# "count/seconds" per user and per IP address; the cache (Redis in production) keeps the count.
RATE_LIMITS = {
    "comment": env.str("RATE_LIMIT_COMMENT", default="10/60"),
    "like": env.str("RATE_LIMIT_LIKE", default="60/60"),
    "report": env.str("RATE_LIMIT_REPORT", default="10/3600"),
    # Every other write: edits, deletes, features, follows, moderation, settings, marking read.
    "write": env.str("RATE_LIMIT_WRITE", default="30/60"),
    # The live preview asks on typing pauses (700 ms): room for a fast typist, not a flood.
    "preview": env.str("RATE_LIMIT_PREVIEW", default="60/60"),
}
