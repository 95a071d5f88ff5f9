"""Kassa's settings, all from the environment (django-environ).

One module serves development and production. With ``DEBUG`` on, secrets
fall back to development values so that ``make run`` works with no set-up;
with ``DEBUG`` off, every secret must be set or start-up stops with a message
naming the variable (cookiecutter-django's rule: production secrets have no
defaults).
"""

import os
import secrets
from base64 import urlsafe_b64encode
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("KASSA_VAR_DIR", default=str(BASE_DIR / "var")))
# Databases, keys and queues of a development install live here: its owner's only.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
VAR_DIR.chmod(0o700)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# The Fernet key every development install used before keys were made per
# install. It is public: it still decrypts what was stored with it, never
# encrypts, and production refuses it (merchants/checks.py).
PUBLIC_DEVELOPMENT_FERNET_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _development_secret(name: str, make) -> str:
    """A secret of this installation's own, made on first use in ``var/`` (mode 0600).

    Linked into place atomically, so processes starting together agree on one.
    """
    path = VAR_DIR / name
    if not path.exists():
        draft = VAR_DIR / f".{name}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return path.read_text().strip()


def _fernet_key() -> str:
    return urlsafe_b64encode(secrets.token_bytes(32)).decode()


_DEVELOPMENT_SECRETS = {
    "SECRET_KEY": lambda: _development_secret("development-secret-key", lambda: secrets.token_urlsafe(50)),
    "KASSA_ENCRYPTION_KEYS": lambda: (
        _development_secret("development-encryption-key", _fernet_key) + "," + PUBLIC_DEVELOPMENT_FERNET_KEY
    ),
}


def _secret(name: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return _DEVELOPMENT_SECRETS[name]()
    raise ImproperlyConfigured(
        f"The environment variable {name} must be set when DEBUG is off. See the README's configuration section."
    )


SECRET_KEY = _secret("SECRET_KEY")
# Fernet keys (urlsafe base64 of 32 bytes), comma-separated. The first one
# encrypts; all of them decrypt, so a new key can be put first and the old
# ones retired after `manage.py rotate_encryption_keys`.
KASSA_ENCRYPTION_KEYS = [k.strip() for k in _secret("KASSA_ENCRYPTION_KEYS").split(",") if k.strip()]
# A development key (made in var/ or the public one) protects nothing from
# someone on the same machine: live Stripe keys are refused while it encrypts.
KASSA_ENCRYPTION_KEY_IS_DEVELOPMENT = not env.str("KASSA_ENCRYPTION_KEYS", default="") or (
    KASSA_ENCRYPTION_KEYS[:1] == [PUBLIC_DEVELOPMENT_FERNET_KEY]
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "merchants.apps.KassaAdminConfig",  # django.contrib.admin with the dashboard's site
    # Kassa's apps before the libraries: where their catalogs translate the same words ("Email", "Key",
    # "Created"), Django takes the first installed app's, and the dashboard should read Kassa's.
    "merchants",
    "billing",
    "webhooks",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

MIDDLEWARE = [
    "kassa.middleware.RequestIdMiddleware",
    "kassa.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /v1/ requests over their key's rate limit are answered here, before anything else runs.
    "merchants.api.throttling.APIRateLimitMiddleware",
    # kassa.page_middleware: the libraries' own, skipped for the API and Stripe's webhooks (no sessions there).
    "kassa.page_middleware.WhiteNoiseMiddleware",
    "kassa.page_middleware.SessionMiddleware",
    # The dashboard's language (its switch's cookie, else Accept-Language); after sessions, before Common.
    "kassa.page_middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "kassa.page_middleware.AuthenticationMiddleware",
    "kassa.page_middleware.OTPMiddleware",
    "kassa.page_middleware.MessageMiddleware",
    "merchants.two_factor_pages.TwoFactorPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kassa.urls"
WSGI_APPLICATION = "kassa.wsgi.application"

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
                "merchants.context_processors.dashboard",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'kassa.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers (web threads, worker, beat) wait for the write lock
    # instead of failing with "database is locked": IMMEDIATE transactions
    # take the lock up front, the busy timeout waits for it, WAL lets readers
    # go on meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests talk to a live server from other threads and processes, so the
    # test database is a file, not SQLite's in-memory default.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_kassa.sqlite3")}
    # SQLite makes its -wal and -shm files with the database file's mode: the owner's only.
    if str(DATABASES["default"]["NAME"]).startswith(str(VAR_DIR)):
        Path(DATABASES["default"]["NAME"]).touch(mode=0o600)
        Path(DATABASES["default"]["NAME"]).chmod(0o600)
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's, with a COMMIT that takes the writes kassa.db kept for it in its round trip (kassa/postgresql).
        DATABASES["default"]["ENGINE"] = "kassa.postgresql"
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Prepared statements: PostgreSQL plans each statement Kassa runs again and again once per connection (psycopg
    # prepares it on its fifth run, with the parameters bound by the server) instead of on every run. That is about
    # a third of PostgreSQL's CPU per renewal (docs/performance-history.md). Django leaves them off for the sake of
    # connection poolers: DATABASE_PREPARED_STATEMENTS=false behind one that cannot keep them (PgBouncer in
    # transaction mode before 1.21, or without max_prepared_statements).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, rate limits and Celery broker when configured -----------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery (see kassa/celery.py for why each setting is what it is) -------
CELERY_TASK_ALWAYS_EAGER = False
# One queue name per installation (tests use their own, so a developer's
# running worker never takes a test's task).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="kassa")
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport with whole-message writes (kassa/celery_fs.py says why).
    CELERY_BROKER_TRANSPORT = "kassa.celery_fs:Transport"
    for sub in ("queue", "processed", "control"):
        (CELERY_FILESYSTEM_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Auth, i18n, static ----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# django-axes checks for a lockout before any password is looked at; it must come first.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LANGUAGE_CODE = "en"
# The languages Kassa has catalogs for (English is the source). The project's own catalog is locale/ (its
# templates and kassa/); each app may keep its own in <app>/locale/. Compiled by kassa/i18n_compile.py.
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if DEBUG:
    # No collectstatic needed in development: whitenoise serves from the apps.
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="kassa@localhost")
# The mail server in one variable, e.g. smtp+tls://user:password@mail.example:587 (django-environ's EMAIL_URL).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
# An email task not run to its end this long after it was queued (the broker could not take it, or lost it) is queued
# again by beat's sweeper, and given up after that many days (merchants/emails.py).
KASSA_EMAIL_REQUEUE_SECONDS = env.float("KASSA_EMAIL_REQUEUE_SECONDS", default=600.0)
KASSA_EMAIL_GIVE_UP_DAYS = env.float("KASSA_EMAIL_GIVE_UP_DAYS", default=3.0)

# --- Security (production) -------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Preloading commits the domain to HTTPS in browsers for good; set it false if that is not wanted.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# The dashboard's language switch (Django's set_language) keeps the choice in this cookie.
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Dashboard login: lockout (django-axes) and two-factor (django-otp) ---
# See merchants/login.py. Failures are counted per user name and, separately,
# per client address: either reaching the limit locks that login out for the
# cool-off time. Per user name stops guessing one account's password from many
# addresses; per address stops one client trying many accounts. Counts live in
# the database (rows updated under select_for_update), so every web process
# sees the same count and a restart forgets nothing.
AXES_FAILURE_LIMIT = env.int("KASSA_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("KASSA_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "merchants.login.login_username"
AXES_CLIENT_IP_CALLABLE = "merchants.login.client_ip"
AXES_LOCKOUT_CALLABLE = "merchants.login.lockout_response"
# Every failed login kept for platform staff to read (who, from where, when); the newest 1,000 per user.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]
# How many reverse proxies in front of Kassa append to X-Forwarded-For. 0 (the
# default, safe without a proxy): the TCP peer is the client and the header is
# ignored, since a client can write anything into it. 1 behind one nginx or
# load balancer, and so on: the client is that many entries from the right.
KASSA_TRUSTED_PROXY_COUNT = env.int("KASSA_TRUSTED_PROXY_COUNT", default=0)
# Card attempts on the hosted pages, before Stripe is asked (card testing: billing/hosted/attempts.py): per
# checkout session, invoice or portal session, and per payer address (N per s, m, h or d).
KASSA_CARD_ATTEMPTS_PER_PAGE = env.str("KASSA_CARD_ATTEMPTS_PER_PAGE", default="10/h")
KASSA_CARD_ATTEMPTS_PER_ADDRESS = env.str("KASSA_CARD_ATTEMPTS_PER_ADDRESS", default="30/h")
# Platform staff (superusers) must use two-factor: on by default in production,
# off with DEBUG so that `make run`'s demo logins work without an app.
KASSA_REQUIRE_2FA_PLATFORM = env.bool("KASSA_REQUIRE_2FA_PLATFORM", default=not DEBUG)
# The dashboard's device pages (for platform staff, the lost-phone path) never show a device's
# secret, its QR code or its backup codes: deleting a device is all they need.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# The issuer shown in authenticator apps next to the account name.
OTP_TOTP_ISSUER = env.str("KASSA_2FA_ISSUER", default="Kassa")

# --- Stripe ----------------------------------------------------------------
# Where the processor's API lives: localstripe in development, unset (the
# SDK's default, api.stripe.com) in production.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)

# --- The API ---------------------------------------------------------------
KASSA_API_VERSION = "2026-11-01.kassa"
# Requests per second per API key, by mode (Stripe's defaults are 100 live, 25 test).
KASSA_RATE_LIMITS = {
    "live": env.str("KASSA_RATE_LIMIT_LIVE", default="100/s"),
    "test": env.str("KASSA_RATE_LIMIT_TEST", default="25/s"),
}
KASSA_IDEMPOTENCY_TTL_HOURS = 24
# A request that crashed between recording its idempotency key and storing
# its response would block the key forever; after this many seconds an
# unfinished record is taken over by a retry.
# Above the longest request: three Stripe calls of up to 80 s each, plus margin.
KASSA_IDEMPOTENCY_STALE_SECONDS = 15 * 60
# The longest a rolled key may keep working.
KASSA_KEY_ROLL_MAX_DAYS = 7
KASSA_PUBLIC_URL = env.str("KASSA_PUBLIC_URL", default="http://127.0.0.1:8000")

# --- Test clocks (billing/clocks/services.py) ---------------------------------
# The work one task of a clock's advance does at most (seconds of the worker's time): past it, the task queues
# the next one from the step it reached, so a long advance never meets Celery's time limit.
KASSA_TEST_CLOCK_TASK_SECONDS = env.float("KASSA_TEST_CLOCK_TASK_SECONDS", default=60)

# --- Subscriptions' renewals (billing/subscriptions/services/renewal.py) -------
# A merchant's chain of renewal batches counts as running this long after its last batch was queued: a worker
# killed mid-batch holds that merchant's renewals back for at most this long, then beat starts a new chain.
# Longer than a batch takes plus its wait in the queue behind other merchants' batches.
KASSA_RENEWAL_CHAIN_SECONDS = env.int("KASSA_RENEWAL_CHAIN_SECONDS", default=300)
# Renewal chains per merchant and mode, each on its share of the subscriptions: how many worker processes one
# merchant's big renewal day may use at once (bin/worker runs two); other merchants' chains take turns with them.
KASSA_RENEWAL_CHAINS = env.int("KASSA_RENEWAL_CHAINS", default=2)

# --- Webhooks (see webhooks/services/delivery.py; the sweep interval: kassa/celery.py) -
# Seconds to wait after failed attempt n before attempt n+1; the delivery is
# given up after the last one. Live: about 3 days, as Stripe. Test: about 2.6
# hours, so a developer's broken receiver is not retried for days.
KASSA_WEBHOOK_RETRY_SCHEDULE = {
    "live": env.list(
        "KASSA_WEBHOOK_RETRY_SCHEDULE_LIVE",
        cast=float,
        default=[60, 300, 1800, 7200, 18000, 36000, 43200, 50400, 50400, 50400],
    ),
    "test": env.list("KASSA_WEBHOOK_RETRY_SCHEDULE_TEST", cast=float, default=[10, 60, 300, 1800, 7200]),
}
# Seconds for the TCP connect, and for each read of the answer.
KASSA_WEBHOOK_TIMEOUT = env.float("KASSA_WEBHOOK_TIMEOUT", default=10.0)
# Test-mode endpoints on loopback (a receiver on the developer's machine); never in live mode.
KASSA_WEBHOOKS_ALLOW_LOOPBACK = env.bool("KASSA_WEBHOOKS_ALLOW_LOOPBACK", default=DEBUG)
# How much of a receiver's answer each attempt keeps, for the dashboard.
KASSA_WEBHOOK_BODY_PREFIX = 1000
# Stripe's rule for inbound events: a signature older than this is refused.
KASSA_STRIPE_WEBHOOK_TOLERANCE = 300

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.api.authentication.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["merchants.api.permissions.HasResourceAccess"],
    # Rate limits run first of all, in merchants.api.throttling.APIRateLimitMiddleware.
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["kassa.api.parsers.StripeFormParser", "kassa.api.parsers.StripeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "kassa.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# The API docs at /v1/docs/: Stripe's grouping by resource, in the order of Stripe's reference.
# Per-operation text is on the views (kassa.api.schema.Doc); errors, samples and shared field
# descriptions are added to every operation by kassa.api.schema.postprocess.
SPECTACULAR_SETTINGS = {
    "TITLE": "Kassa API",
    "DESCRIPTION": (BASE_DIR / "kassa" / "api" / "overview.md").read_text(encoding="utf-8"),
    "VERSION": KASSA_API_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets share the field name proration_behavior: name both, rather than a hash-suffixed name.
    "ENUM_NAME_OVERRIDES": {
        "ProrationBehaviorEnum": ["create_prorations", "always_invoice", "none"],
        "StubProrationBehaviorEnum": ["create_prorations", "none"],
    },
    "SCHEMA_PATH_PREFIX": r"/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kassa.api.schema.postprocess",
    ],
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "docExpansion": "none"},
    "TAGS": [
        {
            "name": "Payment Intents",
            "description": "A PaymentIntent follows one payment from creation to success: create it with the "
            "amount, confirm it with a saved card, and read its `status` (`requires_payment_method`, "
            "`requires_action` for 3-D Secure, `succeeded`, `canceled`).",
        },
        {
            "name": "Payment Methods",
            "description": "Cards saved on a customer, from a token Stripe.js made in the payer's browser. "
            "Card numbers never reach Kassa.",
        },
        {
            "name": "Refunds",
            "description": "Money sent back on a succeeded payment, all of it or part, as many times as what "
            "remains allows.",
        },
        {
            "name": "Customers",
            "description": "The people and companies who pay you: their contact details, saved cards and payments.",
        },
        {
            "name": "Products",
            "description": "What you sell. A product has prices; payment links and checkout sessions sell prices.",
        },
        {
            "name": "Prices",
            "description": "How much a product costs and in which currency, once or on a schedule. Prices "
            "cannot change their amount: make a new price and deactivate the old one.",
        },
        {
            "name": "Tax Rates",
            "description": "Taxes to apply to invoice items and invoices (VAT, sales tax): a percentage, "
            "included in prices or added on top. A rate's percentage never changes: make a new rate and archive "
            "the old one.",
        },
        {
            "name": "Invoice Items",
            "description": "Lines to bill a customer: pending on the customer until an invoice takes them, or "
            "added to a draft invoice. Priced by a one-time price or by an amount.",
        },
        {
            "name": "Invoices",
            "description": "Bills to a customer, from draft to open (numbered without gaps when finalized) to "
            "paid, void or uncollectible; charged on a saved card or sent with a link to pay by a due date.",
        },
        {
            "name": "Invoice Payments",
            "description": "The payments of an invoice, each made by a PaymentIntent: `open` while it is being "
            "collected, `paid`, or `canceled` when another payment replaced it or the invoice was voided or "
            "paid outside Kassa. Read only.",
        },
        {
            "name": "Subscriptions",
            "description": "A customer billed for recurring prices period after period: the first invoice at "
            "once, then one invoice per period, made and charged by Kassa's own workers; `status` follows the "
            "latest invoice (`active`, `past_due`, …).",
        },
        {
            "name": "Subscription Items",
            "description": "The prices (and quantities) a subscription bills, each with its current period.",
        },
        {
            "name": "Test Clocks",
            "description": "Test mode only: a frozen time for some customers. Customers made with a clock live "
            "on its time; advancing it runs what falls due for them (drafts finalized, invoices charged or "
            "overdue), so days of billing happen in seconds.",
        },
        {
            "name": "Customer Portal",
            "description": "A page where your customer manages their own billing with you: their invoices and "
            "PDFs, their card, their email and billing address, as your portal settings allow. You create a "
            "short-lived session for a signed-in customer and send them to its URL.",
        },
        {
            "name": "Payment Links",
            "description": "A shareable URL to a hosted payment page for some prices: no code needed on your "
            "side. Each payer who opens it gets a checkout session.",
        },
        {
            "name": "Checkout Sessions",
            "description": "A hosted payment page for one payer: create a session from your server with what "
            "they buy, send them to its `url`, and learn the outcome from the "
            "`checkout.session.completed` event or by retrieving the session.",
        },
        {
            "name": "Webhook Endpoints",
            "description": "URLs of your server that Kassa sends events to, signed with the endpoint's secret "
            "(`Stripe-Signature`, verified with `stripe.Webhook.construct_event`).",
        },
        {
            "name": "Events",
            "description": "What happened to your objects (`payment_intent.succeeded`, `charge.refunded` …); each "
            "is sent to the webhook endpoints that listen for its type, and can be resent.",
        },
    ],
}

# --- Logging: never a secret or card data (see kassa/logging.py) -----------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "kassa.logging.RedactSecretsFilter"},
        "drop_rate_limited": {"()": "kassa.logging.DropRateLimited"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "stripe": {"level": "WARNING"},
        # fpdf2 subsets its fonts with fontTools, which logs every table it prunes at INFO (dozens of
        # lines per invoice PDF); its warnings (a glyph the font lacks) still show.
        "fontTools": {"level": "WARNING"},
        # A 429 is counted by the limiter, not logged once per refused request.
        "django.request": {"filters": ["drop_rate_limited"]},
    },
}
