import os

from django.core.asgi import get_asgi_application

from .server import server_process_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
application = get_asgi_application()
server_process_ready()  # kassa/server.py
