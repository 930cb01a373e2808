"""Settings for the HVAE service, read from the environment (twelve-factor).

SQLite and an in-process job executor work out of the box; PostgreSQL is one ``DATABASE_URL`` away and Celery
workers one ``CELERY_BROKER_URL`` away.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)


def _secret(name: str, *, debug_default: str) -> str:
    value: str = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return debug_default
    raise ImproperlyConfigured(
        f"{name} is not set. Set it in the environment (or in .env), or set DJANGO_DEBUG=true for development."
    )


SECRET_KEY = _secret("DJANGO_SECRET_KEY", debug_default="insecure-development-key-never-use-in-production")
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "evaluation",
    "annotation",
    "stats",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hvae_site.urls"
WSGI_APPLICATION = "hvae_site.wsgi.application"
ASGI_APPLICATION = "hvae_site.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'hvae.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The in-process executor writes while the site reads: write-ahead logging lets readers go on during a
    # write, IMMEDIATE transactions take the write lock up front (no lock-upgrade deadlock), and writers wait
    # for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://hvae")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # also makes var/ for the SQLite default
WHITENOISE_USE_FINDERS = DEBUG
LOGIN_URL = "admin:login"
# Label Studio, often on the same host, uses Django's default cookie names; browsers ignore ports, so ours
# must differ or signing in to one would sign the rater out of the other.
SESSION_COOKIE_NAME = "hvae_sessionid"
CSRF_COOKIE_NAME = "hvae_csrftoken"

# Deployment behind TLS (see the README's production settings; all off by default for local use).
SECURE_HSTS_SECONDS: int = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD: bool = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT: bool = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Paths (regular expressions, without the leading slash) answered over plain HTTP too, e.g. "^health$" for a
# load balancer's probe.
SECURE_REDIRECT_EXEMPT: list[str] = env.list("DJANGO_SECURE_REDIRECT_EXEMPT", default=[])
SESSION_COOKIE_SECURE: bool = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE: bool = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=False)
# Trust X-Forwarded-Proto only when a proxy that sets it (and strips it from clients) is in front.
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["evaluation.access.IsResearcher"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["hvae_site.filters.ScopedFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "hvae_site.api.AutoSchema",
    "EXCEPTION_HANDLER": "hvae_site.api.exception_handler",
    # Scopes used by hvae_site.api.PostScopedRateThrottle (only writes are counted).
    "DEFAULT_THROTTLE_RATES": {
        "run-create": env.str("HVAE_THROTTLE_RUN_CREATE", default="60/hour"),
        "stats-calculator": env.str("HVAE_THROTTLE_STATS_CALCULATOR", default="120/hour"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "HVAE service API",
    "DESCRIPTION": (
        "Heterogeneous Value Alignment Evaluation: SVO evaluations of LLMs, human validation through Label "
        "Studio, and agreement statistics."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Serve Swagger UI and Redoc from our own static files: the service must work with no network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SvoValueEnum": "evaluation.models.VALUE_CHOICES",
        "RunStatusEnum": "evaluation.models.EvaluationRun.Status",
        "TrialStatusEnum": "evaluation.models.Trial.Status",
    },
}

# Jobs: Celery workers when a broker is configured, else the in-process executor.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND: str | None = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False

# Evaluation
HVAE_TRIAL_BATCH_SIZE: int = env.int("HVAE_TRIAL_BATCH_SIZE", default=20)
# A trial whose worker sent no heartbeat for this long is given back and restarted (crash or kill).
HVAE_STALE_CLAIM_SECONDS: float = env.float("HVAE_STALE_CLAIM_SECONDS", default=60.0)
# Limits: trials in one run, trials in one study (all runs), and the largest run the web process runs itself
# when no broker is configured (larger runs go through the CLI or Celery workers).
HVAE_MAX_TRIALS_PER_RUN: int = env.int("HVAE_MAX_TRIALS_PER_RUN", default=1000)
HVAE_MAX_TRIALS_PER_STUDY: int = env.int("HVAE_MAX_TRIALS_PER_STUDY", default=20000)
HVAE_MAX_INPROCESS_TRIALS: int = env.int("HVAE_MAX_INPROCESS_TRIALS", default=50)
# Environment variables an endpoint's api_key_env may name: exact names, or prefixes ending in "*". The
# service's own settings (DJANGO_*, LABEL_STUDIO_*, DATABASE_*, CELERY_*, CACHE_*...) are refused regardless.
HVAE_LLM_KEY_ENVS: list[str] = env.list("HVAE_LLM_KEY_ENVS", default=["OPENAI_API_KEY", "HVAE_LLM_KEY_*"])
# Hosts the service may call although they are not public addresses (host names, IP addresses or networks in
# CIDR notation), e.g. a local vLLM server or Label Studio on the same machine: "127.0.0.1,::1,localhost".
HVAE_OUTBOUND_ALLOWED_HOSTS: list[str] = env.list("HVAE_OUTBOUND_ALLOWED_HOSTS", default=[])

# Annotation
LABEL_STUDIO_URL: str = env.str("LABEL_STUDIO_URL", default="")
LABEL_STUDIO_API_KEY: str = env.str("LABEL_STUDIO_API_KEY", default="")
LABEL_STUDIO_WEBHOOK_SECRET: str = env.str("LABEL_STUDIO_WEBHOOK_SECRET", default="")
# The service signs raters in to Label Studio and hands Label Studio's session cookie to their browser: both
# must be served under one host name (ports may differ), or under this parent domain (e.g. "example.org" for
# hvae.example.org and labels.example.org).
LABEL_STUDIO_COOKIE_DOMAIN: str = env.str("LABEL_STUDIO_COOKIE_DOMAIN", default="")
HVAE_PUBLIC_URL: str = env.str("HVAE_PUBLIC_URL", default="http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"event": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "event"}},
    "root": {"handlers": ["stderr"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
    },
}
