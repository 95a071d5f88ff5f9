"""The Content-Security-Policy of every hosted page (``/pay/…`` now, invoice pages later).

Script runs only from a tag that carries this response's nonce: Kassa's own
``checkout.js`` and Stripe.js. The pages have no inline script and no inline
event handler; the data a script needs travels as ``json_script`` (JSON,
never executed). Stripe.js's own origin may load its further scripts and
frames, and the page may talk to Kassa and to Stripe's API only
(https://docs.stripe.com/security/guide#content-security-policy). Styles
allow 'unsafe-inline' because Stripe.js styles the elements it mounts; no
script can come in that way. Who may frame the page is decided per response
(``frame_ancestors``): nobody, or the one origin that embeds it.
"""

import secrets
from urllib.parse import urlsplit

from django.conf import settings

STRIPE_JS_ORIGIN = "https://js.stripe.com"
# Stripe.js's 3-D Secure frames and API calls, when it is Stripe's own Stripe.js.
STRIPE_EXTRA = {"frame": ("https://hooks.stripe.com",), "connect": ("https://api.stripe.com",)}


def nonce() -> str:
    return secrets.token_urlsafe(18)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy(*, script_nonce: str, frame_ancestors: str) -> str:
    js = _origin(settings.STRIPE_JS_URL)
    extra = STRIPE_EXTRA if js == STRIPE_JS_ORIGIN else {"frame": (), "connect": ()}
    api = (_origin(settings.STRIPE_API_BASE),) if settings.STRIPE_API_BASE else ()
    directives = {
        "default-src": ["'none'"],
        "script-src": [f"'nonce-{script_nonce}'", js],
        "connect-src": ["'self'", js, *api, *extra["connect"]],
        "frame-src": [js, *extra["frame"]],
        "img-src": ["'self'", "data:", js],
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": [frame_ancestors],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items())
