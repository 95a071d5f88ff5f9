import os

from django.core.wsgi import get_wsgi_application

from .server import server_process_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
application = get_wsgi_application()
server_process_ready()  # kassa/server.py
