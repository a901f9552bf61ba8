"""DecisionOS settings: twelve-factor, read from the environment (django-environ).

DJANGO_ENV selects the profile: ``dev`` (make run), ``test`` (pytest) or ``prod`` (docker). Every
variable read here is listed in README.md and docker/env.sample; a test keeps the three in step.
"""

from pathlib import Path

import environ

from dos.dev_services import dev_services

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DJANGO_ENV = env.str("DJANGO_ENV", default="dev")
if DJANGO_ENV not in ("dev", "test", "prod"):
    raise environ.ImproperlyConfigured("DJANGO_ENV must be dev, test or prod")
PROD = DJANGO_ENV == "prod"

# -- core ------------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "dev")
if PROD:
    SECRET_KEY = env.str("SECRET_KEY")  # required: no default in production
    DEBUG = False
else:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-used-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PROD else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DOS_BASE_URL = env.str("DOS_BASE_URL", default="http://127.0.0.1:8000")
DOS_VERSION = "0.1.0"

INSTALLED_APPS = [
    "dos.apps.DosAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mozilla_django_oidc",
    "guardian",
    "dos",
    "tenancy",
    "decisions",
    "hitl",
    "billing",
    "privacy",
    "catalog",
    "modelops",
    "observability",
]

MIDDLEWARE = [
    "observability.middleware.RequestMetricsMiddleware",
    "dos.middleware.CorrelationIdMiddleware",
    "dos.middleware.BodySizeLimitMiddleware",
    "dos.middleware.ApiLocaleMiddleware",  # /api/: English unless Accept-Language: ko; times in UTC
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files under gunicorn (admin, API docs)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tenancy.middleware.BrowserScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dos.middleware.ApiExceptionMiddleware",
]

ROOT_URLCONF = "dos.urls"
WSGI_APPLICATION = "dos.wsgi.application"
AUTH_USER_MODEL = "tenancy.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

# -- database --------------------------------------------------------------------------------------
# DATABASE_URL is the application role (NOSUPERUSER NOBYPASSRLS). `make run` and `make test` set it
# to the embedded server; migrations run with MIGRATE_DATABASE_URL (the owning role).
# In dev, with them unset, a second terminal (dosctl, manage.py) finds the servers `make run` started
# through var/devstack.json.
DEV_SERVICES = dev_services(Path(env.str("DOS_VAR_DIR", default=str(BASE_DIR / "var")))) if DJANGO_ENV == "dev" else {}
DATABASES = {"default": env.db("DATABASE_URL", default=DEV_SERVICES.get(
    "database_url", "postgres://dos_app@127.0.0.1:54329/dos"))}
# Django's PostgreSQL backend, aware that tenant tables are keyed (org_id, id) (dos/pgbackend/base.py).
DATABASES["default"]["ENGINE"] = "dos.pgbackend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets two test runs share one server without dropping each other's throwaway database.
DATABASES["default"]["TEST"] = {"NAME": env.str("DOS_TEST_DB_NAME", default="") or None}
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env.str(
    "DB_APPLICATION_NAME", default="decisionos"
)
# Break-glass for local debugging only: lets the process start on a superuser/BYPASSRLS role.
DOS_ALLOW_UNSAFE_DB_ROLE = env.bool("DOS_ALLOW_UNSAFE_DB_ROLE", default=False)

# -- redis, cache, celery --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default=DEV_SERVICES.get("redis_url", "redis://127.0.0.1:63799/0"))
# Redis is a helper on the request path (docs/runbooks/degradation.md): calls that take longer than
# this fail and fall back, and after a failure Redis is left alone for REDIS_RETRY_SECONDS.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.2)
REDIS_RETRY_SECONDS = env.float("REDIS_RETRY_SECONDS", default=2.0)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                       "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}}}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
# Delivery guarantees (docs/runbooks/workers.md): every task is acks_late with reject_on_worker_lost
# and a prefetch of one, so a worker killed mid-task leaves its message unacknowledged and it is
# delivered again — which is why every task must be idempotent. With the Redis broker an
# unacknowledged message becomes visible again after `visibility_timeout` seconds; it must exceed the
# longest task run *and* the longest countdown/ETA (attachment scans back off up to 600 s), or a
# task still running, or still waiting, is delivered a second time. The restore scan runs every
# `unacked_restore_interval` seconds.
# Publishing (an outbox kick on commit) must not hang a request while the broker's Redis stalls: the
# default has no socket timeout at all. A kick that fails is logged; the beat sweep delivers later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.float("CELERY_UNACKED_RESTORE_INTERVAL", default=10.0),
    "unacked_restore_throttle": 1,  # scan on every interval: a killed task waits at most timeout + interval
    "socket_timeout": 1.0,
    "socket_connect_timeout": 1.0,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# -- auth, sessions, security ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/admin/"
LOGOUT_REDIRECT_URL = "/admin/login/"
SESSION_LIMIT = env.int("SESSION_LIMIT", default=3)

# -- OIDC (browser sign-in) ------------------------------------------------------------------------
# `make run` points these at the local IdP (devstack/idp); production at the customer's IdP.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile dos")
OIDC_SYNC_ROLES = env.bool("OIDC_SYNC_ROLES", default=True)
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "guardian.backends.ObjectPermissionBackend"]
# Object-level grants use tenant-scoped direct tables (tenancy.ProjectUserObjectPermission); no
# anonymous user object is needed.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False
if OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS.insert(0, "tenancy.oidc.DosOIDCBackend")
OTP_TOTP_ISSUER = "DecisionOS"
# A first TOTP enrolment needs a one-time token e-mailed to the person (tenancy.otp); its lifetime.
OTP_ENROLMENT_TOKEN_SECONDS = env.int("OTP_ENROLMENT_TOKEN_SECONDS", default=3600)
# Refused SSO sign-ins land on the sign-in page, which shows why.
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PROD:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Probes are called by the orchestrator over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^livez$", r"^metrics$"]

# -- i18n, static ----------------------------------------------------------------------------------
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
TIME_ZONE = "Asia/Seoul"  # display and billing periods; storage is UTC (USE_TZ)
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
VAR_DIR = Path(env.str("DOS_VAR_DIR", default=str(BASE_DIR / "var")))  # local state for make run / tests
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PROD  # dev/test serve straight from the apps; prod from collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if PROD
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# -- API -------------------------------------------------------------------------------------------
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["dos.api.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenancy.authentication.ApiKeyAuthentication",
        "tenancy.authentication.AdminSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["dos.api.permissions.ActionPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["billing.throttle.OrgTokenBucketThrottle"],
    "DEFAULT_PAGINATION_CLASS": "dos.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "dos.api.filters.StrictFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "dos.api.schema.DosAutoSchema",
    "EXCEPTION_HANDLER": "dos.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # `?format=` is ours (e.g. explain?format=pdf), not DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DecisionOS API",
    "DESCRIPTION": (
        "Decision automation for regulated lenders and lead brokers. Authenticate with "
        "`Authorization: Bearer dos_…`. Errors are RFC 9457 problem+json. Writes accept "
        "`Idempotency-Key`; every response carries `X-Corr-ID`."
    ),
    "VERSION": DOS_VERSION,
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dos.api.schema.problem_responses_hook",
        "dos.api.schema.constraints_hook",
        "dos.api.schema.caller_hook",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrgStatusEnum": "tenancy.choices.OrgStatus",
        "PolicyVersionStatusEnum": "decisions.choices.VersionStatus",
        "MeterItemStatusEnum": ["accepted", "duplicate", "rejected"],
        "CaseStatusEnum": "hitl.choices.CaseStatus",
        "FinalOutcomeEnum": ["approve", "deny"],
        "MeterSourceEnum": list(("api", "decide", "hitl", "system", "connector")),  # billing.meters.SOURCES
        "CaseSourceEnum": "hitl.choices.CaseSource",
        "DsarKindEnum": "privacy.models.dsar.DsarKind",
        "InvoiceStatusEnum": "billing.models.invoicing.InvoiceStatus",
        "OrgRoleEnum": "tenancy.choices.OrgRole",
        "ConsentEventKindEnum": "privacy.models.consent.ConsentEventKind",
    },
}

# -- logging and metrics ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # json | console
LOGGING_CONFIG = None  # dos.logging configures structlog and the stdlib root logger
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
# prometheus-client reads this itself; set it (to an empty, writable dir) for multi-process servers.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
DOS_READ_ONLY = env.bool("DOS_READ_ONLY", default=False)

# -- human review: mail, vault, attachment scanning ------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend" if PROD
                        else "django.core.mail.backends.console.EmailBackend")
EMAIL_URL = env.email_url("EMAIL_URL", default="smtp://localhost:25")  # host, port, user, password, TLS
EMAIL_HOST, EMAIL_PORT = EMAIL_URL["EMAIL_HOST"], EMAIL_URL["EMAIL_PORT"]
EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = EMAIL_URL["EMAIL_HOST_USER"], EMAIL_URL["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = EMAIL_URL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = EMAIL_URL.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="DecisionOS <no-reply@decisionos.localhost>")
# base64 of 32+ random bytes; seals redacted notes (dos.vault). Required in production.
DOS_VAULT_KEY = env.str("DOS_VAULT_KEY") if PROD else env.str("DOS_VAULT_KEY", default="")
# Vault v2 (ADR 0015): the KEK keystore file (mode 0400) or a KMS adapter factory (dotted path).
# Production refuses to start without one; dev and test create a keystore under var/vault/ on first use.
DOS_VAULT_KMS = env.str("DOS_VAULT_KMS", default="")
DOS_VAULT_KEYSTORE = env.str("DOS_VAULT_KEYSTORE", default="" if PROD else str(
    Path(env.str("DOS_VAR_DIR", default=str(BASE_DIR / "var"))) / "vault" / DJANGO_ENV / "keystore.json"))
if PROD and not (DOS_VAULT_KEYSTORE or DOS_VAULT_KMS):
    raise environ.ImproperlyConfigured("Production needs DOS_VAULT_KEYSTORE (a 0400 keystore file) or DOS_VAULT_KMS.")
DOS_VAULT_KEYSTORE_AUTOCREATE = not PROD
CLAMD_SOCKET = env.str("CLAMD_SOCKET", default="")  # unix socket of clamd; unset = built-in EICAR check only
HITL_ATTACHMENT_MAX_BYTES = env.int("HITL_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)

# -- metering ---------------------------------------------------------------------------------------
USAGE_FUTURE_SKEW_SECONDS = env.int("USAGE_FUTURE_SKEW_SECONDS", default=300)
USAGE_LATE_LAG_SECONDS = env.int("USAGE_LATE_LAG_SECONDS", default=3600)  # watermark: older is "late"
USAGE_MAX_LATENESS_DAYS = env.int("USAGE_MAX_LATENESS_DAYS", default=62)  # older events are dropped
USAGE_PERIOD_CLOSE_GRACE_DAYS = env.int("USAGE_PERIOD_CLOSE_GRACE_DAYS", default=3)
USAGE_ROLLUP_SETTLE_SECONDS = env.int("USAGE_ROLLUP_SETTLE_SECONDS", default=30)
USAGE_RECONCILE_ALERT_PCT = env.float("USAGE_RECONCILE_ALERT_PCT", default=1.0)

from dos.logging import configure_logging  # noqa: E402 - needs the values above

configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
