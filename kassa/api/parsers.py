"""Request bodies: form-encoded with bracket notation (what Stripe's SDKs send) or JSON.

Both read at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes and the form parser at
most ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields, as Django's own parsing would:
an over-large body is a 400 in the API's shape, not a server error.
"""

import json
from urllib.parse import parse_qsl

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from .params import check_depth, unflatten


def _read(stream, parser_context) -> str:
    if stream is None:
        return ""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise ParseError(f"The request body is larger than {limit} bytes.")
    try:
        return raw.decode((parser_context or {}).get("encoding", "utf-8"))
    except UnicodeDecodeError as exc:
        raise ParseError("The request body is not valid UTF-8.") from exc


class StripeFormParser(BaseParser):
    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        body = _read(stream, parser_context)
        try:
            pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
        except ValueError as exc:
            raise ParseError(f"Too many parameters (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}).") from exc
        return unflatten(pairs)


class StripeJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        body = _read(stream, parser_context)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {str(exc)[:200]}") from exc
        if not isinstance(data, dict):
            raise ParseError("A JSON request body must be an object.")
        check_depth(data)
        return data
