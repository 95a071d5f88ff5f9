"""What every hosted page shares: framing and embedding, the CSP nonce, page tokens, message pages, JSON answers.

- Framing is refused (X-Frame-Options DENY, CSP ``frame-ancestors 'none'``)
  except with ``?embed=1&origin=<origin>``: then only that origin may frame
  the page, and a popup keeps its opener (COOP ``unsafe-none``) so that the
  page can ``postMessage`` the outcome to it, with that origin as target.
- A page's JSON calls are protected from cross-site requests without
  cookies: the page carries a token bound to the object it shows (an HMAC
  under SECRET_KEY) that it sends in a custom header, and a browser's
  ``Origin`` must be Kassa's own (billing/checkout/pages.py says why cookies
  cannot do it).
- Every page is rendered with a fresh CSP nonce (csp.py).
"""

import re
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.crypto import constant_time_compare, salted_hmac

from . import csp, i18n

PAGE_TOKEN_HEADER = "X-Kassa-Page-Token"
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")


def embed_origin(value: str | None) -> str | None:
    """``value`` as a bare ``scheme://host[:port]`` origin, or None if it is anything else."""
    if not value or len(value) > 300:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if (
        parts.scheme not in ("http", "https")
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not (_HOST.match(host) or _IPV6.match(f"[{host}]"))
    ):
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def embed_of(request: HttpRequest) -> str | None:
    return embed_origin(request.GET.get("origin")) if request.GET.get("embed") == "1" else None


def with_embed(url: str, embed: str | None, *, lang: str | None = None) -> str:
    """``url`` with the page's embedding and, given ``lang``, its language (see i18n.py) in the query."""
    query = ({"embed": "1", "origin": embed} if embed else {}) | ({i18n.QUERY: lang} if lang else {})
    return f"{url}?{urlencode(query)}" if query else url


def headers(
    response: HttpResponse, *, language: str, embed: str | None = None, script_nonce: str | None = None
) -> HttpResponse:
    response["Content-Language"] = language
    patch_vary_headers(response, ["Accept-Language", "Cookie"])
    if embed:
        # Only the embedding origin may frame it; a popup keeps its opener to postMessage to it.
        response.xframe_options_exempt = True
        response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response["Content-Security-Policy"] = csp.policy(
        script_nonce=script_nonce or csp.nonce(), frame_ancestors=embed or "'none'"
    )
    return response


def page(
    request: HttpRequest, template: str, context: dict, *, language: str, embed: str | None = None, status: int = 200
) -> HttpResponse:
    """A hosted page in ``language`` (active while it renders): its scripts run only with this response's nonce."""
    script_nonce = csp.nonce()
    with translation.override(language):
        response = render(
            request, template, {**context, "language": language, "csp_nonce": script_nonce}, status=status
        )
    i18n.remember_choice(request, response)
    return headers(response, language=language, embed=embed, script_nonce=script_nonce)


def page_token(obj) -> str:
    """The token a page sends with its JSON calls: bound to the object it shows (by its public id), unforgeable
    without SECRET_KEY."""
    return salted_hmac("kassa.pay.page", obj.public_id).hexdigest()


def cross_site_refusal(request: HttpRequest, obj, language: str) -> JsonResponse | None:
    """None for the page's own call; else the 403 to answer (no page token for ``obj``, or another site's Origin)."""
    token = request.headers.get(PAGE_TOKEN_HEADER, "")
    origin = request.headers.get("Origin")
    public = urlsplit(settings.KASSA_PUBLIC_URL)
    own = {f"{request.scheme}://{request.get_host()}", f"{public.scheme}://{public.netloc}"}
    if not constant_time_compare(token, page_token(obj)) or (origin is not None and origin not in own):
        return json_answer(
            {"status": "failed", "message": i18n.text("generic_error"), "code": "forbidden"},
            language=language,
            status=403,
        )
    return None


def message_page(
    request: HttpRequest,
    language: str,
    *,
    status: int,
    title: str,
    body: str,
    merchant: str = "",
    action: tuple[str, str] | None = None,
    embed: str | None = None,
    locale: str | None = None,
) -> HttpResponse:
    context = {
        "language_switch": i18n.switch(request, language, locale),
        "title": title,
        "body": body,
        "merchant_name": merchant,
        "action_url": action[0] if action else None,
        "action_label": action[1] if action else None,
    }
    return page(request, "pay/message.html", context, language=language, embed=embed, status=status)


def not_found(request: HttpRequest, language: str) -> HttpResponse:
    return message_page(
        request,
        language,
        status=404,
        title=i18n.text("not_found_title"),
        body=i18n.text("not_found_body"),
    )


def json_answer(data: dict, *, language: str, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Content-Language"] = language
    patch_vary_headers(response, ["Accept-Language", "Cookie"])
    return response
