import os

from django.core.wsgi import get_wsgi_application

from .frozen import frozen_after_first_request

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
application = get_wsgi_application()
frozen_after_first_request()  # kassa/frozen.py
