"""Settings of the benchmark's baseline: the least a Django + DRF create endpoint can do.

Only what the measurement needs: one app, a short middleware stack, the same
database settings as Kassa (``CONN_MAX_AGE`` 60, health checks on), DRF with
no authentication, permission or throttle classes and the JSON renderer only.
The database comes from ``DATABASE_URL`` (``bench/api_create.py`` sets it).
"""

import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = "bench-baseline-not-a-secret"  # signs nothing: no sessions, no CSRF
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = ["rest_framework", "baseline.rows"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "baseline.urls"
WSGI_APPLICATION = "baseline.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):  # as Kassa's own settings: like for like
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.FormParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
