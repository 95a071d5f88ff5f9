"""The Content-Security-Policy of every hosted page (``/pay/…``, ``/invoices/…``).

Kassa's own script (``checkout.js``) runs only from a tag that carries this
response's nonce, and so does Stripe.js; besides, Stripe.js's own hosts may
load its further scripts and frames (it needs that), and nothing else may.
The pages have no inline script and no inline event handler; the data a
script needs travels as ``json_script`` (JSON, never executed). The page may
talk to Kassa and to Stripe's API only
(https://docs.stripe.com/security/guide#content-security-policy). Styles
allow 'unsafe-inline' because Stripe.js styles the elements it mounts; no
script can come in that way. Who may frame the page is decided per response
(``frame_ancestors``): nobody, or the one origin that embeds it.
"""

import secrets
from urllib.parse import urlsplit

from django.conf import settings

STRIPE_JS_ORIGIN = "https://js.stripe.com"
# When it is Stripe's own Stripe.js: its other script and frame hosts, its 3-D Secure frames, its API.
STRIPE_EXTRA = {
    "script": ("https://*.js.stripe.com",),
    "frame": ("https://*.js.stripe.com", "https://hooks.stripe.com"),
    "connect": ("https://api.stripe.com",),
}
NO_EXTRA = {"script": (), "frame": (), "connect": ()}


def nonce() -> str:
    return secrets.token_urlsafe(18)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy(*, script_nonce: str, frame_ancestors: str) -> str:
    js = _origin(settings.STRIPE_JS_URL)
    extra = STRIPE_EXTRA if js == STRIPE_JS_ORIGIN else NO_EXTRA
    api = (_origin(settings.STRIPE_API_BASE),) if settings.STRIPE_API_BASE else ()
    directives = {
        "default-src": ["'none'"],
        "script-src": [f"'nonce-{script_nonce}'", js, *extra["script"]],
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
