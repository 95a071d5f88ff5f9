"""The payer's hosted pages: ``/pay/<slug>``, ``/pay/session/<id>`` and the page's two JSON calls.

What shaped it:

- Card data never reaches Kassa. The page turns the card into a token with
  Stripe.js (``createToken``) and posts only the token; the server attaches
  it and confirms (``checkout_session_pay``), or, for a setup-mode session
  (the same page, "Save card", no order), only attaches it to the customer
  (``checkout_session_save_card``). 3-D Secure runs in the browser
  (``confirmCardPayment``) only when the server answers ``requires_action``,
  after which the page asks the server to re-read the processor (``/sync``).
- The browser is never trusted. Every status the page shows, and every
  message it posts to an embedding page, is the server's answer from its own
  rows after the processor's state was applied; the success page shows
  success only for a session the server holds as complete.
- The JSON calls are protected from cross-site requests without cookies: the
  page carries a token bound to its session (an HMAC under SECRET_KEY) that
  it sends in a custom header, and a browser's ``Origin`` must be Kassa's
  own. Django's cookie-based CSRF does not work here: embedded in a
  merchant's site (the pay button's overlay) the page is a third-party frame,
  whose ``SameSite=Lax`` CSRF cookie browsers do not send, and Safari blocks
  third-party cookies outright. A custom header cannot be sent cross-origin
  without a CORS preflight, which ``/pay/`` never grants.
- Framing is refused (X-Frame-Options DENY, CSP ``frame-ancestors 'none'``)
  except with ``?embed=1&origin=<origin>``: then only that origin may frame
  the page, and a popup keeps its opener (COOP ``unsafe-none``) so that the
  page can ``postMessage`` the outcome to it, with that origin as target.
- Each view speaks one language (billing/hosted/i18n.py): the session's or
  link's ``locale``, else the payer's pick on the page's switch (``?lang=``,
  remembered in a cookie), else ``Accept-Language``. It is active
  (``translation.activate``) for the whole request, the pay call included,
  and the thread gets its own back afterwards.
- The session's public id, long and random, is the payer's only credential
  (as at Stripe Checkout), so the lookups here are by that id, not scoped by
  an API key's merchant.
"""

import json
import logging
from datetime import UTC, datetime, timedelta

from babel.dates import format_date
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kassa import money
from kassa.errors import CardError, IdempotencyConflict, KassaError, ProcessorError
from merchants.models import Merchant
from merchants.selectors import payments_readiness

from ..catalogue import display
from ..hosted import attempts, framing, i18n
from ..payments import services as payments
from ..payments.models import PaymentIntent
from ..subscriptions.services.common import current_period
from . import selectors
from . import services as checkout
from .models import CheckoutSession, PaymentLink

logger = logging.getLogger(__name__)

IN_FLIGHT = (PaymentIntent.Status.REQUIRES_ACTION, PaymentIntent.Status.PROCESSING)
# What the payer may type, at most (the customer's columns are no wider).
FIELD_LIMITS = {"email": 254, "name": 256, "phone": 40}  # the database's column sizes
ADDRESS_FIELDS = ("line1", "line2", "city", "postal_code", "state", "country")
ADDRESS_FIELD_LIMIT = 200
# Stripe's card brands as a payer reads them (proper names: the same in every language).
BRAND_NAMES = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}
# What checkout.js says itself (the rest of its words come in the server's answers).
SCRIPT_TEXTS = ("processing", "authenticating", "card_incomplete", "network_error", "generic_error")


# --- reads ---------------------------------------------------------------------------


def _find_session(session_id: str) -> CheckoutSession | None:
    return (
        CheckoutSession.objects.select_related("merchant", "payment_intent", "payment_link", "customer")
        .filter(public_id=session_id)
        .first()
    )


def _current(session: CheckoutSession) -> CheckoutSession:
    """The session as the server knows it now, re-read from the processor only when that can change it.

    A payment in flight (3-D Secure, processing) may have moved at the
    processor, and an open session past its expiry is expired. Otherwise the
    rows are the truth; re-reading a settled payment would only repeat it.
    If the processor cannot be reached the last known state stands.
    """
    if session.status != CheckoutSession.Status.OPEN:
        return session
    intent = selectors.checkout_session_payment_intent(session)
    now = timezone.now()  # the page is where the real time comes in
    if (intent is not None and intent.status in IN_FLIGHT) or session.expires_at <= now:
        try:
            checkout.checkout_session_sync(session=session, now=now)
        except KassaError as exc:
            logger.warning("Could not re-read checkout session %s: %s", session.public_id, exc.message)
        return _find_session(session.public_id)
    return session


def _publishable_key(session: CheckoutSession) -> str | None:
    # The same rule as the dashboard's "payments are off" banner (merchants.selectors.payments_readiness).
    return payments_readiness(merchant=session.merchant, livemode=session.livemode).publishable_key or None


# --- formatting ------------------------------------------------------------------------


def _line_items(session: CheckoutSession, language: str) -> list[dict]:
    subscribing = _is_subscription(session)
    lines = []
    for item in session.line_items.select_related("price__product"):
        amount = money.format_localised(item.amount_total, item.currency, language)
        if subscribing and item.price.recurring_interval:  # a one-time price beside them: the first invoice only
            amount = i18n.text("per_interval", amount=amount, interval=display.price_interval(item.price))
        lines.append(
            {
                "description": item.description,
                # The product's own description (its name is the line's): read now, as the catalogue has it.
                "product_description": item.price.product.description or "",
                "quantity": item.quantity,
                "quantity_label": i18n.text("quantity", quantity=item.quantity),
                "amount": amount,
            }
        )
    return lines


def _subscription_terms(session: CheckoutSession, language: str) -> dict | None:
    """What a subscription-mode page says under the order: the trial, then what each period costs."""
    if not _is_subscription(session):
        return None
    items = [item for item in session.line_items.select_related("price") if item.price.recurring_interval]
    per_period = sum(item.price.unit_amount * item.quantity for item in items)
    amount = money.format_localised(per_period, session.currency, language)
    interval = display.price_interval(items[0].price)
    data = session.subscription_data or {}
    days, trial_end = data.get("trial_period_days"), data.get("trial_end")
    if trial_end:  # subscription_data[trial_end]: the trial ends that day
        end = datetime.fromtimestamp(trial_end, tz=UTC)
        date = format_date(end, format="long", locale=language)
        days = max((end - (session.completed_at or timezone.now())).days, 1)
    elif not days:
        return {"trial": "", "then": i18n.text("then_every", amount=amount, interval=interval)}
    else:
        start = session.completed_at or timezone.now()
        date = format_date(start + timedelta(days=days), format="long", locale=language)
    return {
        "trial": i18n.text("trial_one_day") if days == 1 else i18n.text("trial_days", days=days),
        "then": i18n.text("then_every_after_trial", amount=amount, interval=interval, date=date),
    }


def payment_data(session: CheckoutSession) -> dict:
    """What the server confirms about the payment: given to the page and, through it, to an embedding site.

    A setup-mode session has no payment: ``amount`` is null and ``status`` says whether the card is saved.
    """
    intent = selectors.checkout_session_payment_intent(session)
    if session.status == CheckoutSession.Status.COMPLETE and (intent is None or _is_subscription(session)):
        status = PaymentIntent.Status.SUCCEEDED  # the card is saved (or the subscription started)
    elif intent is not None:
        status = intent.status
    else:
        status = PaymentIntent.Status.REQUIRES_PAYMENT_METHOD
    data = {
        "checkout_session": session.public_id,
        "payment_intent": intent.public_id if intent else None,
        "amount": session.amount_total,
        "currency": session.currency or None,
        "status": status,
        "payment_status": session.payment_status,
        "livemode": session.livemode,
    }
    if _is_subscription(session):
        # The subscription the payer started, once started (a declined payer's is not).
        complete = session.status == CheckoutSession.Status.COMPLETE
        data["subscription"] = session.subscription.public_id if complete and session.subscription_id else None
    return data


def _is_setup(session: CheckoutSession) -> bool:
    return session.mode == CheckoutSession.Mode.SETUP


def _is_subscription(session: CheckoutSession) -> bool:
    return session.mode == CheckoutSession.Mode.SUBSCRIPTION


def _has_trial(session: CheckoutSession) -> bool:
    data = session.subscription_data or {}
    return bool(data.get("trial_period_days") or data.get("trial_end"))


def _success_url(session: CheckoutSession) -> str | None:
    if not session.success_url:
        return None
    # https://docs.stripe.com/payments/checkout/custom-success-page
    return session.success_url.replace("{CHECKOUT_SESSION_ID}", session.public_id).replace(
        "%7BCHECKOUT_SESSION_ID%7D", session.public_id
    )


def _setup_summary(session: CheckoutSession, merchant: str) -> dict:
    """What a setup-mode page says instead of an order: a card is saved, nothing is charged."""
    return {"heading": i18n.text("setup_heading"), "body": i18n.text("setup_body", merchant=merchant)}


# --- pages ------------------------------------------------------------------------------


def _link_inactive(request: HttpRequest, language: str, link: PaymentLink) -> HttpResponse:
    name = link.merchant.name
    return framing.message_page(
        request,
        language,
        status=410,
        title=i18n.text("link_inactive_title"),
        body=i18n.text("link_inactive_body", merchant=name),
        merchant=name,
        locale=link.locale,
    )


@never_cache
@require_GET
@i18n.in_payer_language
def payment_link_open(request: HttpRequest, slug: str) -> HttpResponse:
    """Opening a payment link makes a fresh checkout session (as Stripe's links do) and shows it."""
    link = PaymentLink.objects.select_related("merchant").filter(slug=slug).first()
    language = i18n.activate_for(request, link.locale if link is not None else None)
    if link is None:
        return framing.not_found(request, language)
    if not link.active or link.merchant.status != Merchant.Status.ACTIVE:
        return _link_inactive(request, language, link)
    try:
        session = checkout.checkout_session_from_link(
            payment_link=link, now=timezone.now(), prefilled_email=request.GET.get("prefilled_email")
        )
    except KassaError as exc:
        if exc.code == "payment_link_inactive":  # deactivated a moment ago
            return _link_inactive(request, language, link)
        logger.warning("Payment link %s could not open a session: %s", link.public_id, exc.message)
        return framing.message_page(
            request,
            language,
            status=503,
            title=i18n.text("unavailable_title"),
            body=i18n.text("unavailable_body", merchant=link.merchant.name),
            merchant=link.merchant.name,
            locale=link.locale,
        )
    # A ?lang= pick goes on to the session's page (and into the cookie, for frames that keep cookies).
    url = framing.with_embed(
        reverse("pay:session", args=[session.public_id]), framing.embed_of(request), lang=i18n.picked(request)
    )
    return framing.headers(i18n.remember_choice(request, redirect(url)), language=language)


def _open_page(request: HttpRequest, session_id: str):
    """What every session page starts with: its language, its embedding, the session as it now stands, or the
    404 page to answer with. The page's language is active from here on."""
    embed = framing.embed_of(request)
    session = _find_session(session_id)
    language = i18n.activate_for(request, session.locale if session is not None else None)
    if session is None:
        return None, language, embed, framing.not_found(request, language)
    return _current(session), language, embed, None


@never_cache
@require_GET
@i18n.in_payer_language
def session_page(request: HttpRequest, session_id: str) -> HttpResponse:
    session, language, embed, missing = _open_page(request, session_id)
    if missing is not None:
        return missing
    name = session.merchant.name
    if session.status == CheckoutSession.Status.COMPLETE:
        url = framing.with_embed(
            reverse("pay:session_complete", args=[session.public_id]), embed, lang=i18n.picked(request)
        )
        return framing.headers(redirect(url), language=language, embed=embed)
    if session.status == CheckoutSession.Status.EXPIRED:
        link = session.payment_link
        again = None
        if link is not None and link.active and not embed:
            again = (reverse("pay:link", args=[link.slug]), i18n.text("start_again"))
        elif session.cancel_url and not embed:
            again = (session.cancel_url, i18n.text("cancel"))
        return framing.message_page(
            request,
            language,
            status=410,
            title=i18n.text("expired_title"),
            body=i18n.text("expired_body"),
            merchant=name,
            action=again,
            embed=embed,
            locale=session.locale,
        )
    if session.payment_link is not None and not session.payment_link.active:
        return _link_inactive(request, language, session.payment_link)
    publishable_key = _publishable_key(session)
    if publishable_key is None:
        return framing.message_page(
            request,
            language,
            status=503,
            title=i18n.text("unavailable_title"),
            body=i18n.text("unavailable_body", merchant=name),
            merchant=name,
            embed=embed,
            locale=session.locale,
        )
    setup = _is_setup(session)
    subscribing = _is_subscription(session)
    total = None if setup else money.format_localised(session.amount_total, session.currency, language)
    if setup:
        pay_label = i18n.text("save_card")
    elif subscribing:
        pay_label = i18n.text("start_trial" if _has_trial(session) and not session.amount_total else "subscribe")
    else:
        pay_label = i18n.text("pay", amount=total)
    if subscribing:
        notice = i18n.text("subscribe_notice", merchant=name)
    else:
        notice = i18n.text("save_card_notice", merchant=name) if session.setup_future_usage else ""
    title_key = "setup_page_title" if setup else "subscribe_page_title" if subscribing else "page_title"
    pick = None if session.locale in i18n.LANGUAGES else i18n.chosen_language(request)
    customer_email = session.customer_email or (session.customer.email if session.customer else "") or ""
    region = i18n.region_from(request)
    config = {
        "publishableKey": publishable_key,
        "locale": language,
        "checkoutSession": session.public_id,
        # A payer's pick goes with the page's calls (a frame may get no cookie): the payment is taken, and answered,
        # in the language the payer saw. Otherwise the calls carry the page's own Accept-Language.
        "payUrl": framing.with_embed(reverse("pay:session_pay", args=[session.public_id]), embed, lang=pick),
        "syncUrl": framing.with_embed(reverse("pay:session_sync", args=[session.public_id]), embed, lang=pick),
        "pageToken": framing.page_token(session),
        "embed": bool(embed),
        "origin": embed,
        "text": {key: i18n.text(key) for key in SCRIPT_TEXTS} | {"pay": pay_label},
    }
    context = {
        "language_switch": i18n.switch(request, language, session.locale),
        "title": i18n.text(title_key, merchant=name),
        "merchant_name": name,
        "livemode": session.livemode,
        "setup": _setup_summary(session, name) if setup else None,
        "subscription": _subscription_terms(session, language),
        "line_items": _line_items(session, language),
        "total": total,
        "pay_label": pay_label,
        "save_card_notice": notice,
        "secure_note": i18n.text("secure_note", merchant=name),
        "collect_email": session.email_collection,
        "customer_email": customer_email,
        "collect_phone": session.phone_number_collection,
        "collect_address": session.billing_address_collection == "required",
        "countries": i18n.countries(language),
        "default_country": region,
        "cancel_url": None if embed else session.cancel_url,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "config": config,
    }
    return framing.page(request, "pay/checkout.html", context, language=language, embed=embed)


@never_cache
@require_GET
@i18n.in_payer_language
def session_complete(request: HttpRequest, session_id: str) -> HttpResponse:
    """The success page: only for a session the server holds as complete; otherwise back to paying."""
    session, language, embed, missing = _open_page(request, session_id)
    if missing is not None:
        return missing
    if session.status != CheckoutSession.Status.COMPLETE:
        return framing.headers(
            redirect(
                framing.with_embed(reverse("pay:session", args=[session.public_id]), embed, lang=i18n.picked(request))
            ),
            language=language,
            embed=embed,
        )
    success_url = _success_url(session)
    if success_url and not embed:
        # An embedding site decides where to go next itself, from onPaymentComplete.
        return framing.headers(redirect(success_url), language=language)
    name = session.merchant.name
    link = session.payment_link
    if _is_setup(session):
        card = session.saved_payment_method
        total = None
        title = i18n.text("card_saved_title")
        body = i18n.text(
            "card_saved_body",
            merchant=name,
            brand=BRAND_NAMES.get(card.card_brand, card.card_brand) if card else "",
            last4=card.card_last4 if card else "",
        )
        reference = ""
    elif _is_subscription(session):
        total = money.format_localised(session.amount_total, session.currency, language)
        card = session.subscription.default_payment_method if session.subscription_id else None
        brand = BRAND_NAMES.get(card.card_brand, card.card_brand) if card else ""
        last4 = card.card_last4 if card else ""
        if session.payment_status == CheckoutSession.PaymentStatus.NO_PAYMENT_REQUIRED and _has_trial(session):
            title = i18n.text("trial_started_title")
            body = i18n.text("trial_started_body", merchant=name, brand=brand, last4=last4)
        elif session.payment_status == CheckoutSession.PaymentStatus.NO_PAYMENT_REQUIRED:
            # No trial, yet nothing paid today (a billing_cycle_anchor with proration_behavior=none, a free first
            # period): the subscription has started, and its first payment is at the end of this first period.
            title = i18n.text("subscribed_title")
            period = current_period(session.subscription) if session.subscription_id else None
            first = period[1] if period else None  # its first charge: the end of its first period
            date = format_date(first, format="long", locale=language) if first else ""
            body = i18n.text("subscribed_free_body", merchant=name, date=date, brand=brand, last4=last4)
        else:
            title = i18n.text("subscribed_title")
            body = i18n.text("subscribed_body", merchant=name, amount=total)
        reference = i18n.text("reference", reference=session.subscription.public_id if session.subscription_id else "")
    else:
        total = money.format_localised(session.amount_total, session.currency, language)
        title = i18n.text("paid_title")
        body = i18n.text("paid_body", merchant=name, amount=total)
        reference = i18n.text("reference", reference=session.payment_intent.public_id if session.payment_intent else "")
    context = {
        "language_switch": i18n.switch(request, language, session.locale),
        "title": title,
        "merchant_name": name,
        "livemode": session.livemode,
        "body": body,
        "custom_message": link.after_completion_message if link is not None else "",
        "reference": reference,
        "setup": _setup_summary(session, name) if _is_setup(session) else None,
        "subscription": _subscription_terms(session, language),
        "line_items": _line_items(session, language),
        "total": total,
        "config": {"embed": bool(embed), "origin": embed, "payment": payment_data(session)},
    }
    return framing.page(request, "pay/complete.html", context, language=language, embed=embed)


# --- the page's JSON calls ---------------------------------------------------------------


def _message_for(error: KassaError) -> str:
    """The catalogue key for a service error: by its stable code (and field), never its English words."""
    if isinstance(error, CardError):
        return error.code if error.code in i18n.MESSAGES else "card_declined"
    if isinstance(error, IdempotencyConflict):
        return "payment_in_progress"
    if isinstance(error, ProcessorError):
        return "processor_error"
    if error.code == "email_invalid":
        return "email_invalid"
    if error.param in ("email", "phone", "address"):
        return f"{error.param}_required"
    if error.code == "checkout_session_not_open":
        return "session_not_open"
    if error.code == "payment_link_inactive":
        return "link_inactive"
    if error.code == "processor_not_configured":
        return "processor_not_configured"
    return "generic_error"


def _answer(session: CheckoutSession, language: str, embed: str | None, pick: str | None) -> JsonResponse:
    """The page's next step, from the server's rows alone (``pick``: the payer's language pick, carried on)."""
    intent = selectors.checkout_session_payment_intent(session)
    data = {"payment": payment_data(session), "client_secret": None, "next_url": None}
    if session.status == CheckoutSession.Status.COMPLETE:
        next_url = framing.with_embed(reverse("pay:session_complete", args=[session.public_id]), embed, lang=pick)
        key = "card_saved_title" if _is_setup(session) else "paid_title"
        message = i18n.text("subscribed_title" if _is_subscription(session) else key)
        return framing.json_answer(
            data | {"status": "succeeded", "message": message, "next_url": next_url}, language=language
        )
    if session.status == CheckoutSession.Status.EXPIRED:
        next_url = framing.with_embed(reverse("pay:session", args=[session.public_id]), embed, lang=pick)
        message = i18n.text("session_not_open")
        body = data | {"status": "failed", "code": "checkout_session_not_open", "message": message}
        return framing.json_answer(body | {"next_url": next_url}, language=language, status=410)
    if intent is not None and intent.status == PaymentIntent.Status.REQUIRES_ACTION:
        client_secret = payments.processor_client_secret(intent)
        if not client_secret:  # the processor could not be asked: say so; paying again is safe
            return _failure(ProcessorError("The payment processor did not answer."), session, language)
        message = i18n.text("authenticating")
        body = {"status": "requires_action", "message": message, "client_secret": client_secret}
        return framing.json_answer(data | body, language=language)
    if intent is not None and intent.status == PaymentIntent.Status.PROCESSING:
        message = i18n.text("still_processing")
        return framing.json_answer(data | {"status": "processing", "message": message}, language=language, status=202)
    # Open and unpaid: the last refusal, if any, is the answer (a decline, a failed 3-D Secure).
    error = (intent.last_payment_error if intent is not None else None) or {}
    if not error:
        body = {"status": "failed", "code": "generic_error", "message": i18n.text("generic_error")}
        return framing.json_answer(data | body, language=language, status=400)
    code = error.get("code") if error.get("code") in i18n.MESSAGES else "card_declined"
    body = {"status": "failed", "code": code, "message": i18n.text(code)}
    return framing.json_answer(data | body, language=language, status=402)


def _failed(session: CheckoutSession, language: str, *, code: str, key: str, status: int) -> JsonResponse:
    body = {"status": "failed", "code": code, "message": i18n.text(key)}
    return framing.json_answer(
        body | {"payment": payment_data(session), "client_secret": None, "next_url": None},
        language=language,
        status=status,
    )


def _failure(error: KassaError, session: CheckoutSession, language: str) -> JsonResponse:
    key = _message_for(error)
    status = {CardError: 402, IdempotencyConflict: 409, ProcessorError: 502}.get(type(error), 400)
    return _failed(session, language, code=error.code or key, key=key, status=status)


def _read_body(request: HttpRequest, session: CheckoutSession) -> tuple[dict, str | None]:
    """The payer's details, checked for shape and size; the services check the meaning."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}, "generic_error"
    if not isinstance(body, dict):
        return {}, "generic_error"
    fields: dict = {"token": body.get("token")}
    if not isinstance(fields["token"], str) or len(fields["token"]) > 255:
        return {}, "card_incomplete"
    for name, limit in FIELD_LIMITS.items():
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return {}, "generic_error"
        if value and len(value) > limit:
            return {}, "field_too_long"
        fields[name] = (value or "").strip() or None
    if session.billing_address_collection == "required":
        address = body.get("address")
        if not isinstance(address, dict) or set(address) - set(ADDRESS_FIELDS):
            return {}, "address_required"
        if any(not isinstance(v, str) or len(v) > ADDRESS_FIELD_LIMIT for v in address.values() if v is not None):
            return {}, "field_too_long"
        fields["address"] = {key: (address.get(key) or "").strip() or None for key in ADDRESS_FIELDS}
    else:
        fields["address"] = None
    return fields, None


def _session_for_call(request: HttpRequest, session_id: str):
    """The session a JSON call names, its language (active from here on) and embedding, or the refusal to answer
    with. The page sends the payer's pick as ``?lang=``."""
    embed = framing.embed_of(request)
    session = _find_session(session_id)
    language = i18n.activate_for(request, session.locale if session is not None else None)
    if session is None:
        missing = {"status": "failed", "message": i18n.text("not_found_title")}
        return None, language, embed, framing.json_answer(missing, language=language, status=404)
    return session, language, embed, framing.cross_site_refusal(request, session, language)


@csrf_exempt  # Cross-site requests are refused by _cross_site_refusal instead: see the module docstring.
@never_cache
@require_POST
@i18n.in_payer_language
def session_pay(request: HttpRequest, session_id: str) -> JsonResponse:
    """Pay with a Stripe.js token: answers succeeded, requires_action (with the processor's client secret) or failed.

    A setup-mode session saves the card instead (``checkout_session_save_card``): succeeded or failed.
    """
    session, language, embed, refusal = _session_for_call(request, session_id)
    if refusal is not None:
        return refusal
    session = _current(session)
    intent = selectors.checkout_session_payment_intent(session)
    if session.status != CheckoutSession.Status.OPEN or (intent is not None and intent.status in IN_FLIGHT):
        # Already paid, expired, or waiting for 3-D Secure: say so rather than attach another card.
        return _answer(session, language, embed, i18n.picked(request))
    fields, problem = _read_body(request, session)
    if problem is not None:
        return _failed(session, language, code=problem, key=problem, status=400)
    wait = attempts.card_attempt_wait(request, session)
    if wait is not None:  # card testing (billing/hosted/attempts.py): Stripe is not asked
        failed = _failed(session, language, code="too_many_attempts", key="too_many_attempts", status=429)
        return attempts.refused(failed, wait)
    payer = {key: fields[key] for key in ("token", "email", "name", "phone", "address")}
    try:
        if _is_setup(session):
            checkout.checkout_session_save_card(session=session, now=timezone.now(), **payer)
        elif _is_subscription(session):
            checkout.checkout_session_subscribe(session=session, now=timezone.now(), **payer)
        else:
            checkout.checkout_session_pay(
                session=session,
                language=translation.get_language(),  # the page's language: the payer's receipt is in it
                now=timezone.now(),
                **payer,
            )
    except KassaError as exc:
        logger.info("Checkout session %s payment refused: %s (%s)", session.public_id, exc.code, type(exc).__name__)
        session = _find_session(session.public_id)
        intent = selectors.checkout_session_payment_intent(session)
        if session.status != CheckoutSession.Status.OPEN or (intent is not None and intent.status in IN_FLIGHT):
            # Another submit (a double click, a second tab) got there first, or the merchant expired the
            # session meanwhile: tell the payer where it stands.
            return _answer(session, language, embed, i18n.picked(request))
        return _failure(exc, session, language)
    return _answer(_find_session(session.public_id), language, embed, i18n.picked(request))


@csrf_exempt  # As session_pay.
@never_cache
@require_POST
@i18n.in_payer_language
def session_sync(request: HttpRequest, session_id: str) -> JsonResponse:
    """After Stripe.js's 3-D Secure step: the server re-reads the processor and answers as ``session_pay`` does."""
    session, language, embed, refusal = _session_for_call(request, session_id)
    if refusal is not None:
        return refusal
    return _answer(_current(session), language, embed, i18n.picked(request))
