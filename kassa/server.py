"""What a web server's process does once its application is loaded, whichever entry point loaded it
(kassa/wsgi.py: gunicorn, as bin/web runs it, and runserver; kassa/asgi.py: an ASGI server)."""

from .frozen import frozen_after_first_request
from .logging import servers_logs_redacted


def server_process_ready() -> None:
    """Its long-lived objects frozen out of the cycle collector's sight after its first request (kassa/frozen.py),
    and the server's own logs, which name every request's path, redacted (kassa/logging.py)."""
    frozen_after_first_request()
    servers_logs_redacted()
