"""The hosted customer portal ``/portal/<token>``: a payer manages their own billing with one merchant.

What shaped it:

- The session's ``token`` is the credential, as an invoice's (billing/invoices/pages.py): lookups here
  are by token alone. The URL opens once, within 5 minutes of its creation; opening it starts the
  session (``services.portal_session_open``) and binds it to the opening browser with a cookie
  scoped to the session's own path (an HMAC under SECRET_KEY of the token and the opening time).
  Without that cookie, or past the session's end, the page says it has expired and offers the way
  back to the merchant. A forwarded or leaked URL, once used, opens nothing.
- Built as the other hosted pages: CSP with a nonce per response, no framing
  (billing/hosted/framing.py), EN/FR (billing/hosted/i18n.py), phone and desktop (checkout.css).
- "Update card" is the hosted pay pages' code path: the same ``checkout.js`` turns the card into a
  Stripe.js token in the browser and posts only the token, with the page token header and Kassa's
  ``Origin`` (checked by ``framing.cross_site_refusal``, as for invoices and checkout); the server
  saves it and makes it the customer's default (``services.portal_card_update``).
- Every other write is an HTML form posting to ``/portal/<token>/<section>/<action>``, protected by
  Django's CSRF token (the portal is never framed, so its SameSite=Lax cookie is always sent), and
  redirected back to the page (post/redirect/get) with the section's confirmation.
- What the page shows is a list of sections (sections.py): the portal's own (card, details, invoices)
  and any other part's (subscriptions), each shown only when the merchant's settings turn it on.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kassa.errors import CardError, KassaError, ProcessorError

from ..hosted import attempts, framing, i18n
from ..invoices.services import customer_language
from . import sections, selectors, services
from .models import PortalSession

logger = logging.getLogger(__name__)

TOKEN_MAX = 64  # PortalSession.token's column
LINK_MAX = 400
COOKIE_PREFIX = "kassa_portal"
NAME_MAX = 256

MESSAGES = {
    "page_title": _("Your account with %(merchant)s"),
    "return": _("Return to %(merchant)s"),
    "expired_title": _("This page has expired"),
    "expired_body": _(
        "For your security, this link works for a short time only. Go back to %(merchant)s to open it again."
    ),
    "not_found_title": _("This page does not exist"),
    "not_found_body": _("Check the address you were given, or ask the seller for a new link."),
    "card_updated": _("Your card has been updated."),
    "feature_disabled": _("This is not available here. Contact %(merchant)s."),
}


def text(key: str, **values) -> str:
    return i18n.fill(MESSAGES, key, **values)


@dataclass
class PortalContext:
    """What a section sees: the request, its session (whose customer is the only one it may touch), the page's
    language and the payer's language pick (to carry in its links), and the time of the request."""

    request: HttpRequest
    session: PortalSession
    language: str
    pick: str | None
    now: datetime

    @property
    def customer(self):
        return self.session.customer

    @property
    def configuration(self):
        return self.session.configuration

    def url(self, name: str = "page", *args) -> str:
        return framing.with_embed(reverse(f"portal:{name}", args=[self.session.token, *args]), None, lang=self.pick)

    def action_url(self, section: str, action: str) -> str:
        return self.url("action", section, action)


# --- the session, its language and its browser ---------------------------------------------------


def _find(token: str) -> PortalSession | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    return selectors.portal_session_by_token(token)


def _fixed_language(session: PortalSession | None) -> str | None:
    """The session's ``locale`` when it names a language Kassa speaks (``fr-CA`` → ``fr``); else None (auto)."""
    if session is None or not session.locale or session.locale == "auto":
        return None
    language = session.locale.split("-")[0].lower()
    return language if language in i18n.LANGUAGES else None


def _language(request: HttpRequest, session: PortalSession | None) -> str:
    """The session's locale, else the payer's pick, else the customer's preferred_locales, else the browser's."""
    fixed = _fixed_language(session)
    if fixed:
        return fixed
    chosen = i18n.chosen_language(request)
    if chosen:
        return chosen
    browser = i18n.language_from(request)
    return customer_language(session.customer, browser) if session is not None else browser


def _cookie_name(session: PortalSession) -> str:
    return f"{COOKIE_PREFIX}_{session.public_id.rsplit('_', 1)[1][:12]}"


def _browser_key(session: PortalSession) -> str:
    return salted_hmac("kassa.portal.browser", f"{session.token}:{session.opened_at.isoformat()}").hexdigest()


def _bound(request: HttpRequest, session: PortalSession, now: datetime) -> bool:
    """The session was opened in this browser, has not expired, and its customer was not deleted since."""
    try:
        services.portal_session_check(session=session, now=now)
    except services.SessionExpired:
        return False
    return constant_time_compare(request.COOKIES.get(_cookie_name(session), ""), _browser_key(session))


def _bind(request: HttpRequest, response: HttpResponse, session: PortalSession) -> HttpResponse:
    response.set_cookie(
        _cookie_name(session),
        _browser_key(session),
        max_age=int(services.SESSION_LENGTH.total_seconds()),
        path=reverse("portal:page", args=[session.token]),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


def _expired(request: HttpRequest, language: str, session: PortalSession) -> HttpResponse:
    name = session.merchant.name
    action = (session.return_url, text("return", merchant=name)) if session.return_url else None
    return framing.message_page(
        request,
        language,
        status=410,
        title=text("expired_title"),
        body=text("expired_body", merchant=name),
        merchant=name,
        action=action,
        locale=_fixed_language(session),
    )


def _not_found(request: HttpRequest, language: str) -> HttpResponse:
    return framing.message_page(
        request, language, status=404, title=text("not_found_title"), body=text("not_found_body")
    )


# --- the page ----------------------------------------------------------------------------------


def _render(ctx: PortalContext, *, done: str = "", errors: dict | None = None, status: int = 200) -> HttpResponse:
    session, request = ctx.session, ctx.request
    name = session.merchant.name
    configuration = session.configuration
    shown = []
    for section in sections.sections():
        data = section.context(ctx)
        if data is None:
            continue
        shown.append(
            {
                "key": section.key,
                "template": section.template,
                "data": data,
                "done": str(section.confirmations.get(done.partition(".")[2], ""))
                if done.partition(".")[0] == section.key
                else "",
                "error": (errors or {}).get(section.key, ""),
            }
        )
    # A refusal by a section that is not shown (its feature was turned off meanwhile) shows at the top.
    keys = {s["key"] for s in shown}
    page_error = next((message for key, message in (errors or {}).items() if key not in keys), "")
    scripts = [s["data"]["script_config"] for s in shown if s["data"].get("script_config")]
    context = {
        "language_switch": i18n.switch(request, ctx.language, _fixed_language(session)),
        "title": text("page_title", merchant=name),
        "merchant_name": name,
        "livemode": session.livemode,
        "headline": configuration.headline,
        "customer": session.customer,
        "return_url": session.return_url,
        "return_label": text("return", merchant=name),
        "privacy_policy_url": configuration.privacy_policy_url,
        "terms_of_service_url": configuration.terms_of_service_url,
        "sections": shown,
        "page_error": page_error,
        # One Stripe.js form at most on the page (the card's): its config, for checkout.js.
        "checkout_config": scripts[0] if scripts else None,
        "stripe_js_url": scripts[0]["stripeJsUrl"] if scripts else None,
    }
    return framing.page(request, "portal/page.html", context, language=ctx.language, status=status)


def _open(request: HttpRequest, token: str):
    session = _find(token)
    language = _language(request, session)
    translation.activate(language)
    return session, language


@never_cache
@require_GET
@i18n.in_payer_language
def portal_page(request: HttpRequest, token: str) -> HttpResponse:
    """The portal: opened for the first time (within 5 minutes of the session's creation) it starts the session
    in this browser; later visits need that browser's cookie and an unexpired session."""
    session, language = _open(request, token)
    if session is None:
        return _not_found(request, language)
    now = timezone.now()
    opened_now = False
    if session.opened_at is None:
        try:
            session = services.portal_session_open(session=session, now=now)
        except services.SessionExpired:
            return _expired(request, language, session)
        session = _find(token)
        opened_now = True
    elif not _bound(request, session, now):
        return _expired(request, language, session)
    ctx = PortalContext(request, session, language, i18n.picked(request), now)
    response = _render(ctx, done=request.GET.get("done", "")[:80])
    return _bind(request, response, session) if opened_now else response


@never_cache
@require_GET
@i18n.in_payer_language
def portal_link_open(request: HttpRequest, signed: str) -> HttpResponse:
    """An emailed portal link (``services.portal_link_for_customer``): a fresh session, opened in this browser."""
    translation.activate(i18n.language_for(request))
    if len(signed) > LINK_MAX:
        return _not_found(request, translation.get_language())
    try:
        session = services.portal_session_from_link(signed=signed, now=timezone.now())
    except services.SessionExpired:
        language = translation.get_language()
        return framing.message_page(
            request, language, status=410, title=text("expired_title"), body=str(text("not_found_body"))
        )
    url = framing.with_embed(reverse("portal:page", args=[session.token]), None, lang=i18n.picked(request))
    return _bind(request, redirect(url), session)


def _error_text(error: KassaError, session: PortalSession, ctx: PortalContext | None = None, found=None) -> str:
    """What the payer reads for a service's refusal: by its stable code and field, never its English words
    (the section's own words first, when it has some for this refusal)."""
    own = found.refusal(ctx, error) if found is not None and found.refusal is not None else None
    if own:
        return own
    if error.code == "portal_feature_disabled":
        return text("feature_disabled", merchant=session.merchant.name)
    if error.code == "email_invalid":
        return i18n.text("email_invalid")
    if error.param == "address":
        return i18n.text("address_required")
    if error.param == "email":
        return i18n.text("email_required")
    return i18n.text("generic_error")


@never_cache
@require_POST
@i18n.in_payer_language
def portal_action(request: HttpRequest, token: str, section_key: str, action: str) -> HttpResponse:
    """A section's form (CSRF-protected by Django): the section's action, then back to the page."""
    session, language = _open(request, token)
    if session is None:
        return _not_found(request, language)
    now = timezone.now()
    if not _bound(request, session, now):
        return _expired(request, language, session)
    found = sections.section(section_key)
    handler = found.actions.get(action) if found is not None else None
    if handler is None:
        raise Http404
    ctx = PortalContext(request, session, language, i18n.picked(request), now)
    try:
        handler(ctx, request.POST)
    except KassaError as exc:
        logger.info("Portal session %s: %s/%s refused (%s)", session.public_id, section_key, action, exc.code)
        session = _find(token)
        ctx = PortalContext(request, session, language, ctx.pick, now)
        return _render(ctx, errors={section_key: _error_text(exc, session, ctx, found)}, status=400)
    query = {"done": f"{section_key}.{action}"} | ({i18n.QUERY: ctx.pick} if ctx.pick else {})
    url = reverse("portal:page", args=[session.token]) + "?" + urlencode(query)
    return redirect(f"{url}#section-{section_key}")


# --- the card form's JSON call (checkout.js) ---------------------------------------------------------


def _card_failed(language: str, *, code: str, message: str, status: int) -> JsonResponse:
    body = {"status": "failed", "code": code, "message": message, "client_secret": None, "next_url": None}
    return framing.json_answer(body, language=language, status=status)


@csrf_exempt  # As the other hosted pages' calls: refused cross-site by framing.cross_site_refusal instead.
@never_cache
@require_POST
@i18n.in_payer_language
def portal_card(request: HttpRequest, token: str) -> JsonResponse:
    """Save a Stripe.js token as the customer's new default card: answers succeeded (with the page to go back
    to) or failed (with the payer's words)."""
    session, language = _open(request, token)
    if session is None:
        return _card_failed(language, code="not_found", message=text("not_found_title"), status=404)
    refusal = framing.cross_site_refusal(request, session, language)
    if refusal is not None:
        return refusal
    now = timezone.now()
    if not _bound(request, session, now):
        return _card_failed(language, code="portal_session_expired", message=text("expired_title"), status=403)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    card_token = body.get("token") if isinstance(body, dict) else None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(card_token, str) or not card_token or len(card_token) > 255:
        return _card_failed(language, code="card_incomplete", message=i18n.text("card_incomplete"), status=400)
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX):
        return _card_failed(language, code="field_too_long", message=i18n.text("field_too_long"), status=400)
    wait = attempts.card_attempt_wait(request, session)
    if wait is not None:  # card testing (billing/hosted/attempts.py): Stripe is not asked
        message = i18n.text("too_many_attempts")
        return attempts.refused(_card_failed(language, code="too_many_attempts", message=message, status=429), wait)
    try:
        services.portal_card_update(session=session, token=card_token, name=(name or "").strip() or None, now=now)
    except KassaError as exc:
        logger.info("Portal session %s: card refused (%s)", session.public_id, exc.code)
        if isinstance(exc, CardError):
            code = exc.code if exc.code in i18n.MESSAGES else "card_declined"
            return _card_failed(language, code=code, message=i18n.text(code), status=402)
        if isinstance(exc, ProcessorError):
            return _card_failed(language, code="processor_error", message=i18n.text("processor_error"), status=502)
        return _card_failed(language, code=exc.code or "generic_error", message=_error_text(exc, session), status=400)
    pick = i18n.picked(request)
    query = {"done": "payment_method.update"} | ({i18n.QUERY: pick} if pick else {})
    next_url = f"{reverse('portal:page', args=[session.token])}?{urlencode(query)}#section-payment_method"
    body = {"status": "succeeded", "message": text("card_updated"), "client_secret": None, "next_url": next_url}
    return framing.json_answer(body | {"payment": None}, language=language)
