"""Kassa's project package (settings, urls, the Celery app, wsgi/asgi).

Named ``kassa`` rather than ``platform``: a package called ``platform`` would
shadow Python's standard-library module of that name, which ``uuid`` (and so
Django) and stripe import.
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
