"""A logging filter that masks anything shaped like a secret.

Kassa never logs secrets on purpose; this is the second line of defence for
the message a library or an exception puts together: API keys, webhook
secrets and card-number-like digit runs are masked before a record is
written, and so are the tokens in the paths of the pages a link alone opens
(a hosted invoice's, the customer portal's and its emailed link's, a password
reset's): Django logs the path of every request answered 4xx or 5xx
(``django.request``), and a declined card on a hosted invoice page is a 402.
"""

import logging
import re

_PATTERNS = [
    re.compile(r"\b((?:sk|rk)_(?:test|live)_)[A-Za-z0-9]+"),
    re.compile(r"\b(whsec_)[A-Za-z0-9+/=]+"),
    re.compile(r"\b(\d{0})\d{13,19}\b"),
    # /invoices/<token>…, /portal/<token>… (43 base62 characters), /portal/link/<signed> (Django's signing: base64,
    # colons); not the API's /v1/invoices/in_… (a public id), nor a module's path (billing/portal/sections.py).
    re.compile(r"((?<!/v1)/(?:invoices|portal)/)[A-Za-z0-9]{30,}"),
    re.compile(r"(/portal/link/)[A-Za-z0-9_:-]{20,}"),
    re.compile(r"(/reset/[A-Za-z0-9_-]+/)[A-Za-z0-9-]{6,}"),
]

#: Loggers whose records go to their own handlers, not to the root's console (where ``RedactSecretsFilter`` is): the
#: web servers' access and error logs, which name every request's path (gunicorn's set up by its own process,
#: runserver's by Django's defaults).
SERVER_LOGGERS = ("gunicorn.access", "gunicorn.error", "django.server")


def servers_logs_redacted() -> None:
    """Mask secrets in the web servers' own logs too (``SERVER_LOGGERS``): a filter on each logger, which every record
    logged there passes, whatever handlers the server gave it; called by both server entry points (kassa/server.py),
    once Django has configured logging. Once per logger, however often it is called."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(each, RedactSecretsFilter) for each in logger.filters):
            logger.addFilter(RedactSecretsFilter())


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return True


class DropRateLimited(logging.Filter):
    """Keeps Django's per-request log line for a 429 out of the log: the rate limiter counts them instead
    (merchants/api/throttling.py), so a rejected flood does not also flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 429
