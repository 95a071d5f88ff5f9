"""Domain checks shared by the services (so the API and the dashboard agree)."""

from urllib.parse import urlsplit

from kassa.errors import InvalidRequest


def http_url(value: str | None, *, param: str, max_length: int = 2048) -> str | None:
    """An absolute http(s) URL, or None. Anything else (``javascript:``, relative paths) is refused."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise InvalidRequest(f"Invalid URL for {param}.", code="url_invalid", param=param)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InvalidRequest(
            f"Invalid URL for {param}: it must be an absolute http or https URL.", code="url_invalid", param=param
        )
    return value


def image_urls(value, *, param: str = "images", max_count: int = 8) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"Invalid {param}: it must be a list of URLs.", code="parameter_invalid", param=param)
    if len(value) > max_count:
        raise InvalidRequest(f"At most {max_count} {param}.", code="parameter_invalid", param=param)
    return [http_url(url, param=f"{param}[{i}]") for i, url in enumerate(value)]
