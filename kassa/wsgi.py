import os

from django.core.wsgi import get_wsgi_application

from .frozen import frozen_after_first_request
from .logging import servers_logs_redacted

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
application = get_wsgi_application()
frozen_after_first_request()  # kassa/frozen.py
servers_logs_redacted()  # the servers' access logs name every path (kassa/logging.py)
