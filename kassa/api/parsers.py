"""Request bodies: form-encoded with bracket notation (what Stripe's SDKs send) or JSON."""

from urllib.parse import parse_qsl

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

from .params import unflatten


class StripeFormParser(BaseParser):
    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            body = stream.read().decode(encoding) if stream is not None else ""
            return unflatten(parse_qsl(body, keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError as exc:
            raise ParseError("The request body is not valid UTF-8.") from exc


class StripeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise ParseError("A JSON request body must be an object.")
        return data
