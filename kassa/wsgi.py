import os

from django.core.signals import request_finished
from django.core.wsgi import get_wsgi_application

from .frozen import frozen_once

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
application = get_wsgi_application()


def _frozen_after_first_request(**_kwargs) -> None:
    """What this server process holds frozen once it has answered its first request (kassa/frozen.py)."""
    frozen_once("request")


request_finished.connect(_frozen_after_first_request)
