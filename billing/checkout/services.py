"""Payment links and checkout sessions (Stripe Checkout's shape) and paying them on the hosted page.

A payment link is a reusable recipe; opening it makes a checkout session, a
one-time basket with a price, a lifetime (30 minutes to 24 hours) and at most
one PaymentIntent. A session is ``complete`` only once its PaymentIntent has
succeeded at the processor (``checkout_session_mark_paid``, called when that
is recorded), never because a browser reached a success URL.

Saving a card, as Stripe Checkout's ``mode=setup`` and ``setup_future_usage``:

- A setup-mode session has no line items and no amounts; its page asks for a
  card and saves it on the customer (the session's, else the payer's by the
  email rule below), charging nothing; then it is ``complete`` with
  ``payment_status=no_payment_required``. Kassa has no SetupIntents (a card
  is saved by attaching it to the customer at the processor, as
  ``POST /v1/payment_methods`` does), so ``setup_intent`` is null, as Stripe
  answers for a session that has none; the saved card is on the customer's
  cards, newest first, and in the ``payment_method.attached`` event sent with
  the session's ``checkout.session.completed``.
  Limitation: without a SetupIntent, a card saved by setup mode has not been
  authenticated for off-session use (Strong Customer Authentication). A card
  whose bank asks for authentication later is refused off session with
  ``authentication_required``; the payer then authenticates on the hosted
  invoice page (an invoice sent to them), where 3-D Secure runs.
- A payment session's card pays that PaymentIntent only, as at Stripe
  without ``setup_future_usage``: it is not among the customer's saved cards
  (``customer`` null) and nothing can charge it again. With
  ``payment_intent_data[setup_future_usage]`` (the session's or its payment
  link's) the card is saved on the customer once the payment succeeds, and
  Stripe is told (``setup_future_usage`` on its PaymentIntent), so the
  payment's authentication also sets the card up for that later use.

Payers become customers as with Stripe's ``customer_creation=if_required``
plus email matching (``customer_for_payer``): one customer per email per
merchant and mode.

- A session made with an explicit ``customer`` keeps that customer.
- Otherwise the payer's email is matched, case-insensitively, against the
  merchant's non-deleted customers in the session's mode, wherever they were
  made (links, sessions, the API, the dashboard); the oldest match is used.
  The payer's typed name, phone and address never overwrite it (anyone can
  type an email); what the payer typed stays on the session's
  ``customer_details``.
- No match (or no email): a new customer.
- Two payments with the same new email at once make one customer: the
  lookup and the insert run under a transaction-scoped lock on that email
  (PostgreSQL advisory lock; SQLite's IMMEDIATE transactions already
  serialise writers).
"""

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from kassa import mail, money, validators
from kassa import metadata as md
from kassa.errors import CardError, IdempotencyConflict, InvalidRequest, KassaError
from kassa.ids import public_id, random_string
from merchants.models import Merchant
from webhooks.services.outbox import event_emit, render

from ..catalogue import selectors as catalogue_selectors
from ..catalogue import services as catalogue
from ..catalogue.models import Customer, Price
from ..invoices import hooks as invoice_hooks
from ..invoices import services as invoices
from ..invoices.models import Invoice, TaxRate
from ..invoices.services.common import tax_rates_check
from ..payments import selectors as payment_selectors
from ..payments import services as payments
from ..payments.models import PaymentIntent, PaymentMethod
from ..subscriptions import services as subscriptions
from ..subscriptions.models import Subscription
from ..subscriptions.services.common import period_after, stub_amount
from ..subscriptions.services.create import TRIAL_DAYS_MAX, items_check
from . import selectors
from .models import (
    CheckoutSession,
    CheckoutSessionLineItem,
    Locale,
    PaymentLink,
    PaymentLinkLineItem,
    SetupFutureUsage,
)

logger = logging.getLogger(__name__)
S = CheckoutSession.PaymentStatus

MIN_LIFETIME = timedelta(minutes=30)
MAX_LIFETIME = timedelta(hours=24)
MAX_LINE_ITEMS = 20
MAX_QUANTITY = 999


# Stripe's words for a basket that does not fit its mode.
RECURRING_IN_PAYMENT_MODE = (
    "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only "
    "one-time prices."
)
NO_RECURRING_IN_SUBSCRIPTION_MODE = (
    "You must provide at least one recurring price in `subscription` mode when using prices."
)


def _line_items(
    *, merchant, livemode: bool, line_items: list[dict], mode: str = CheckoutSession.Mode.PAYMENT
) -> tuple[list[tuple[Price, int]], str]:
    """Resolve ``[{"price": Price or None, "price_data": {...} or None, "quantity": n}]``: one currency; one-time
    prices in payment mode, recurring ones (of one interval) in subscription mode."""
    if not line_items:
        raise InvalidRequest("At least one line item is required.", code="parameter_missing", param="line_items")
    if len(line_items) > MAX_LINE_ITEMS:
        raise InvalidRequest(f"At most {MAX_LINE_ITEMS} line items.", param="line_items")
    resolved = []
    for index, item in enumerate(line_items):
        param = f"line_items[{index}]"
        quantity = item.get("quantity", 1)
        if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidRequest(f"Quantity must be 1 to {MAX_QUANTITY}.", param=f"{param}[quantity]")
        price = item.get("price")
        data = item.get("price_data")
        if (price is None) == (data is None):
            raise InvalidRequest(
                "Pass exactly one of price and price_data.", code="parameter_missing", param=f"{param}[price]"
            )
        if data is not None:
            product_data = data.get("product_data") or {}
            product = catalogue.product_create(
                merchant=merchant,
                livemode=livemode,
                active=False,
                name=product_data.get("name"),
                description=product_data.get("description"),
                images=product_data.get("images"),
                metadata=product_data.get("metadata"),
            )
            # Inline prices exist for this basket only, as at Stripe: inactive, not reusable.
            price = catalogue.price_create(
                merchant=merchant,
                livemode=livemode,
                product=product,
                currency=data.get("currency", ""),
                unit_amount=data.get("unit_amount", -1),
                active=False,
            )
        elif price.merchant_id != merchant.pk or price.livemode != livemode:
            raise InvalidRequest(
                f"No such price: '{price.public_id}'", code="resource_missing", param=f"{param}[price]"
            )
        elif not price.active and item.get("_allow_inactive") is not True:
            raise InvalidRequest(f"The price {price.public_id} is not active.", param=f"{param}[price]")
        resolved.append((price, quantity))
    _mode_check(resolved, mode=mode, merchant=merchant, livemode=livemode)
    currencies = {price.currency for price, _ in resolved}
    if len(currencies) > 1:
        raise InvalidRequest("All line items must have the same currency.", param="line_items")
    currency = currencies.pop()
    total = sum(price.unit_amount * quantity for price, quantity in resolved)
    if total < 1:
        raise InvalidRequest("The total must be more than zero.", code="amount_too_small", param="line_items")
    if total > money.MAX_AMOUNT:
        raise InvalidRequest(
            "The total is more than Kassa accepts in one payment.", code="amount_too_large", param="line_items"
        )
    return resolved, currency


def _mode_check(resolved: list[tuple[Price, int]], *, mode: str, merchant, livemode: bool) -> None:
    """Payment mode's basket: one-time prices. Subscription mode's: recurring prices only, and the subscription's
    own rules (one currency, one interval, no price twice), checked before the payer comes, with the checkout's
    parameter names."""
    if mode == CheckoutSession.Mode.PAYMENT:
        for index, (price, _) in enumerate(resolved):
            if price.type != Price.Type.ONE_TIME:
                raise InvalidRequest(RECURRING_IN_PAYMENT_MODE, param=f"line_items[{index}][price]")
        return
    recurring = [(n, price, quantity) for n, (price, quantity) in enumerate(resolved) if _recurring(price)]
    if not recurring:
        raise InvalidRequest(NO_RECURRING_IN_SUBSCRIPTION_MODE, param="line_items")
    # One-time prices beside them are billed on the first invoice only (the subscription's add_invoice_items).
    try:
        items_check(
            [{"price": price, "quantity": quantity} for _, price, quantity in recurring],
            merchant=merchant,
            livemode=livemode,
        )
    except InvalidRequest as exc:
        # items_check names the n-th recurring item: the session's parameter is its place among all line items.
        match = re.match(r"items\[(\d+)\](.*)", exc.param or "")
        exc.param = f"line_items[{recurring[int(match[1])][0]}]{match[2]}" if match else "line_items"
        raise


def _recurring(price: Price) -> bool:
    return price.type == Price.Type.RECURRING


def _check_locale(locale: str) -> None:
    # "" is unset (behaves as auto); the API's serializers refuse other values first, in words for developers.
    if locale and locale not in Locale.values:
        raise InvalidRequest(
            f"{locale!r} is not a locale Kassa supports yet; use one of: {', '.join(Locale.values)}.", param="locale"
        )


def _check_setup_future_usage(value: str) -> None:
    # "" is unset: the card pays this payment only.
    if value and value not in SetupFutureUsage.values:
        raise InvalidRequest(
            "setup_future_usage must be off_session or on_session.", param="payment_intent_data[setup_future_usage]"
        )


SESSION_SUBSCRIPTION_DATA = ("trial_end", "billing_cycle_anchor", "proration_behavior", "default_tax_rates")
TRIAL_END_MIN = timedelta(hours=48)  # Stripe's rule for a checkout session's subscription_data[trial_end]


def subscription_data_check(
    data: dict | None, *, mode: str, param: str = "subscription_data", session: dict | None = None
) -> dict | None:
    """``subscription_data`` as the subscription will be made with it (``trial_period_days``, ``description``,
    ``metadata``): subscription mode only, as at Stripe. None outside subscription mode.

    ``session`` (``merchant``, ``livemode``, ``now``, ``expires_at``): a checkout session's, which also takes
    ``trial_end``, ``billing_cycle_anchor``, ``proration_behavior`` and ``default_tax_rates`` (a payment link
    does not, as at Stripe); see ``_session_subscription_data``."""
    if mode != CheckoutSession.Mode.SUBSCRIPTION:
        if data:
            raise InvalidRequest(
                "subscription_data can only be used in `subscription` mode (with recurring prices).", param=param
            )
        return None
    data = data or {}
    allowed = {"trial_period_days", "description", "metadata"} | (set(SESSION_SUBSCRIPTION_DATA) if session else set())
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(f"Kassa does not support {param}[{unknown[0]}] yet.", param=f"{param}[{unknown[0]}]")
    days = data.get("trial_period_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TRIAL_DAYS_MAX):
        raise InvalidRequest(
            f"trial_period_days must be a whole number from 1 to {TRIAL_DAYS_MAX}.",
            param=f"{param}[trial_period_days]",
        )
    description = data.get("description") or None
    if description is not None and len(description) > 500:
        raise InvalidRequest("The description is at most 500 characters.", param=f"{param}[description]")
    checked = {"trial_period_days": days, "description": description, "metadata": md.merge({}, data.get("metadata"))}
    if session:
        checked |= _session_subscription_data(data, param=param, **session)
    return checked


def _session_subscription_data(data: dict, *, param: str, merchant, livemode: bool, now, expires_at) -> dict:
    """A session's own ``subscription_data`` keys, checked, as JSON (Unix seconds, tax rate ids): what
    ``subscription_create`` is given when the payer pays (it checks them again then)."""
    checked = {}
    trial_end, anchor = data.get("trial_end"), data.get("billing_cycle_anchor")
    if trial_end is not None:
        if data.get("trial_period_days"):
            raise InvalidRequest("Give either trial_end or trial_period_days, not both.", param=f"{param}[trial_end]")
        if trial_end < now + TRIAL_END_MIN:
            raise InvalidRequest("trial_end must be at least 48 hours in the future.", param=f"{param}[trial_end]")
        if trial_end > now + timedelta(days=TRIAL_DAYS_MAX):
            raise InvalidRequest("trial_end can be at most two years from now.", param=f"{param}[trial_end]")
        checked["trial_end"] = int(trial_end.timestamp())
    if anchor is not None:
        # The subscription starts when the payer pays, up to the session's expiry: its anchor must still be ahead.
        if anchor <= expires_at:
            raise InvalidRequest(
                "billing_cycle_anchor must be in the future, after the session expires (expires_at).",
                param=f"{param}[billing_cycle_anchor]",
            )
        if trial_end is not None and anchor < trial_end:
            raise InvalidRequest(
                "billing_cycle_anchor cannot be before the trial ends.", param=f"{param}[billing_cycle_anchor]"
            )
        checked["billing_cycle_anchor"] = int(anchor.timestamp())
    behavior = data.get("proration_behavior")
    if behavior is not None:
        if behavior not in ("create_prorations", "none"):
            raise InvalidRequest(
                "proration_behavior must be create_prorations or none.", param=f"{param}[proration_behavior]"
            )
        checked["proration_behavior"] = behavior
    if data.get("default_tax_rates"):
        rates = tax_rates_check(
            data["default_tax_rates"], merchant=merchant, livemode=livemode, param=f"{param}[default_tax_rates]"
        )
        checked["default_tax_rates"] = [rate.public_id for rate in rates]
    return checked


def _first_invoice_amounts(resolved, data: dict, *, merchant, now: datetime) -> tuple[int, int]:
    """What a subscription-mode session's first invoice will bill (subtotal, total with exclusive taxes), as the
    subscription will make it: nothing for recurring prices in a trial, the stub's share before a later
    ``billing_cycle_anchor`` (nothing with ``proration_behavior=none``), one-time prices in full. Reckoned now;
    the completed session has the invoice's own amounts (the stub is a little shorter by then)."""
    rates = list(
        TaxRate.objects.filter(merchant=merchant, public_id__in=data.get("default_tax_rates") or []).order_by("pk")
    )
    trial = data.get("trial_period_days") or data.get("trial_end")
    anchor = data.get("billing_cycle_anchor")
    sketch = Subscription(billing_cycle_anchor=datetime.fromtimestamp(anchor, tz=UTC)) if anchor else None
    subtotal = total = 0
    for price, quantity in resolved:
        amount = price.unit_amount * quantity
        if _recurring(price) and trial:
            amount = 0
        elif _recurring(price) and sketch is not None:
            start, end = period_after(sketch, price, now)
            stub = stub_amount(sketch, price, quantity, start, end)
            amount = 0 if data.get("proration_behavior") == "none" else stub
        subtotal += amount
        exclusive = [(rate.percentage, False) for rate in rates if not rate.inclusive]
        total += amount + sum(invoices.tax_amounts(amount, exclusive, price.currency)) if exclusive else amount
    return subtotal, total


def payment_link_mode(payment_link: PaymentLink) -> str:
    """``subscription`` for a link of recurring prices (its sessions make subscriptions), else ``payment``."""
    if payment_link.subscription_data is not None:
        return CheckoutSession.Mode.SUBSCRIPTION
    return CheckoutSession.Mode.PAYMENT


# --- payment links ----------------------------------------------------------------


def _after_completion(after_completion: dict | None) -> dict:
    after_completion = after_completion or {"type": PaymentLink.AfterCompletion.HOSTED_CONFIRMATION}
    kind = after_completion.get("type")
    if kind == PaymentLink.AfterCompletion.REDIRECT:
        url = validators.http_url(
            (after_completion.get("redirect") or {}).get("url"), param="after_completion[redirect][url]"
        )
        if not url:
            raise InvalidRequest(
                "A redirect needs a URL.", code="parameter_missing", param="after_completion[redirect][url]"
            )
        return {"after_completion_type": kind, "after_completion_redirect_url": url, "after_completion_message": ""}
    if kind == PaymentLink.AfterCompletion.HOSTED_CONFIRMATION:
        message = (after_completion.get("hosted_confirmation") or {}).get("custom_message") or ""
        if len(message) > 500:
            raise InvalidRequest(
                "The message is at most 500 characters.", param="after_completion[hosted_confirmation][custom_message]"
            )
        return {"after_completion_type": kind, "after_completion_redirect_url": "", "after_completion_message": message}
    raise InvalidRequest(
        "after_completion[type] must be hosted_confirmation or redirect.", param="after_completion[type]"
    )


@transaction.atomic
def payment_link_create(
    *,
    merchant,
    livemode: bool,
    line_items: list[dict],
    after_completion: dict | None = None,
    billing_address_collection: str = "auto",
    phone_number_collection: bool = False,
    email_collection: bool = True,
    locale: str = "",
    setup_future_usage: str = "",
    subscription_data: dict | None = None,
    active: bool = True,
    metadata=None,
) -> PaymentLink:
    """A link of one-time prices (its sessions take payments) or of recurring prices (its sessions make
    subscriptions, with ``subscription_data``)."""
    mode = CheckoutSession.Mode.PAYMENT
    if any(isinstance(item.get("price"), Price) and item["price"].type == Price.Type.RECURRING for item in line_items):
        mode = CheckoutSession.Mode.SUBSCRIPTION
    resolved, currency = _line_items(merchant=merchant, livemode=livemode, line_items=line_items, mode=mode)
    subscription_data = subscription_data_check(subscription_data, mode=mode)
    if mode == CheckoutSession.Mode.SUBSCRIPTION and setup_future_usage:
        raise InvalidRequest(
            "payment_intent_data is for links of one-time prices; a subscription's card is always saved.",
            param="payment_intent_data",
        )
    if billing_address_collection not in PaymentLink.AddressCollection.values:
        raise InvalidRequest("billing_address_collection must be auto or required.", param="billing_address_collection")
    _check_locale(locale)
    _check_setup_future_usage(setup_future_usage)
    link = PaymentLink.objects.create(
        public_id=public_id(PaymentLink.PREFIX),
        merchant=merchant,
        livemode=livemode,
        slug=("test_" if not livemode else "") + random_string(20),
        currency=currency,
        active=active,
        billing_address_collection=billing_address_collection,
        phone_number_collection=phone_number_collection,
        email_collection=email_collection,
        locale=locale,
        setup_future_usage=setup_future_usage,
        subscription_data=subscription_data,
        metadata=md.merge({}, metadata),
        **_after_completion(after_completion),
    )
    for price, quantity in resolved:
        PaymentLinkLineItem.objects.create(public_id=public_id("li"), payment_link=link, price=price, quantity=quantity)
    event_emit(type="payment_link.created", obj=link)
    return link


@transaction.atomic
def payment_link_create_for_amount(
    *, merchant, livemode: bool, amount: int, currency: str, description: str, **options
) -> PaymentLink:
    """The dashboard's quick link: an amount and a description; Kassa makes the product and the price."""
    product = catalogue.product_create(merchant=merchant, livemode=livemode, name=description)
    price = catalogue.price_create(
        merchant=merchant, livemode=livemode, product=product, currency=currency, unit_amount=amount
    )
    return payment_link_create(
        merchant=merchant, livemode=livemode, line_items=[{"price": price, "quantity": 1}], **options
    )


@transaction.atomic
def payment_link_update(*, payment_link: PaymentLink, **changes) -> PaymentLink:
    link = PaymentLink.objects.select_for_update().get(pk=payment_link.pk)
    before = render(link)
    if "active" in changes:
        link.active = changes["active"]
    if "after_completion" in changes:
        for field, value in _after_completion(changes["after_completion"]).items():
            setattr(link, field, value)
    fields = (
        "billing_address_collection",
        "phone_number_collection",
        "email_collection",
        "locale",
        "setup_future_usage",
    )
    for field in fields:
        if field in changes:
            setattr(link, field, changes[field])
    if link.billing_address_collection not in PaymentLink.AddressCollection.values:
        raise InvalidRequest("billing_address_collection must be auto or required.", param="billing_address_collection")
    _check_locale(link.locale)
    _check_setup_future_usage(link.setup_future_usage)
    mode = payment_link_mode(link)
    if "subscription_data" in changes:
        link.subscription_data = subscription_data_check(changes["subscription_data"], mode=mode)
    if mode == CheckoutSession.Mode.SUBSCRIPTION and link.setup_future_usage:
        raise InvalidRequest(
            "payment_intent_data is for links of one-time prices; a subscription's card is always saved.",
            param="payment_intent_data",
        )
    if "metadata" in changes:
        link.metadata = md.merge(link.metadata, changes["metadata"])
    link.save()
    event_emit(type="payment_link.updated", obj=link, before=before)
    return link


def payment_link_url(payment_link: PaymentLink) -> str:
    return f"{settings.KASSA_PUBLIC_URL}/pay/{payment_link.slug}"


# --- checkout sessions ------------------------------------------------------------


def checkout_session_url(session: CheckoutSession) -> str:
    return f"{settings.KASSA_PUBLIC_URL}/pay/session/{session.public_id}"


def _basket(
    *, merchant, livemode: bool, mode: str, line_items, currency: str | None, setup_future_usage: str
) -> tuple[list[tuple[Price, int]], str, int | None]:
    """What a new session sells, its currency and total: the line items (payment), or nothing (setup)."""
    if mode == CheckoutSession.Mode.SETUP:
        if line_items:
            raise InvalidRequest(
                "A setup-mode session saves a card and charges nothing: it takes no line_items.", param="line_items"
            )
        if setup_future_usage:
            raise InvalidRequest(
                "payment_intent_data is for payment mode; a setup-mode session always saves the card.",
                param="payment_intent_data",
            )
        if currency and not money.is_supported(currency.lower()):
            raise InvalidRequest(f"Invalid currency: {currency}.", code="parameter_invalid_currency", param="currency")
        return [], (currency or "").lower(), None
    if mode in (CheckoutSession.Mode.PAYMENT, CheckoutSession.Mode.SUBSCRIPTION):
        if mode == CheckoutSession.Mode.SUBSCRIPTION and setup_future_usage:
            raise InvalidRequest(
                "payment_intent_data is for payment mode; a subscription's card is always saved.",
                param="payment_intent_data",
            )
        resolved, line_currency = _line_items(merchant=merchant, livemode=livemode, line_items=line_items, mode=mode)
        if currency and currency.lower() != line_currency:
            raise InvalidRequest("currency must be the line items' currency.", param="currency")
        return resolved, line_currency, sum(price.unit_amount * quantity for price, quantity in resolved)
    raise InvalidRequest("mode must be payment, setup or subscription.", param="mode")


@transaction.atomic
def checkout_session_create(
    *,
    merchant,
    livemode: bool,
    line_items: list[dict] | None = None,
    success_url: str | None = None,
    cancel_url: str | None = None,
    client_reference_id: str | None = None,
    customer: Customer | None = None,
    customer_email: str | None = None,
    expires_at=None,
    metadata=None,
    payment_link: PaymentLink | None = None,
    billing_address_collection: str = "auto",
    phone_number_collection: bool = False,
    email_collection: bool = True,
    locale: str = "",
    mode: str = CheckoutSession.Mode.PAYMENT,
    currency: str | None = None,
    customer_creation: str = "if_required",
    setup_future_usage: str = "",
    subscription_data: dict | None = None,
    now: datetime,
) -> CheckoutSession:
    """A session to pay ``line_items`` (``mode="payment"``), to save a card (``mode="setup"``: no line items), or
    to subscribe to recurring ``line_items`` (``mode="subscription"``: the payer pays the first invoice; with
    ``subscription_data[trial_period_days]`` nothing is charged now, the card is saved)."""
    _check_locale(locale)
    if customer_creation not in ("always", "if_required"):
        raise InvalidRequest("customer_creation must be always or if_required.", param="customer_creation")
    _check_setup_future_usage(setup_future_usage)
    resolved, currency, total = _basket(
        merchant=merchant,
        livemode=livemode,
        mode=mode,
        line_items=line_items,
        currency=currency,
        setup_future_usage=setup_future_usage,
    )
    expires_at = expires_at or now + MAX_LIFETIME
    subscription_data = subscription_data_check(
        subscription_data,
        mode=mode,
        session={"merchant": merchant, "livemode": livemode, "now": now, "expires_at": expires_at},
    )
    subtotal = total
    if subscription_data:
        subtotal, total = _first_invoice_amounts(resolved, subscription_data, merchant=merchant, now=now)
    success_url = validators.http_url(success_url, param="success_url", max_length=5000)
    cancel_url = validators.http_url(cancel_url, param="cancel_url", max_length=5000)
    if customer is not None and customer_email:
        raise InvalidRequest(
            "Pass customer or customer_email, not both.", code="parameters_exclusive", param="customer_email"
        )
    if customer is not None and (
        customer.merchant_id != merchant.pk or customer.livemode != livemode or customer.deleted
    ):
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    if customer_email and "@" not in customer_email:
        raise InvalidRequest(f"Invalid email address: {customer_email}", code="email_invalid", param="customer_email")
    if not (now + MIN_LIFETIME - timedelta(seconds=5) <= expires_at <= now + MAX_LIFETIME + timedelta(seconds=5)):
        raise InvalidRequest("expires_at must be between 30 minutes and 24 hours from now.", param="expires_at")
    session = CheckoutSession.objects.create(
        public_id=f"cs_{'live' if livemode else 'test'}_{random_string(56)}",
        merchant=merchant,
        livemode=livemode,
        mode=mode,
        payment_status=(
            CheckoutSession.PaymentStatus.NO_PAYMENT_REQUIRED
            if mode == CheckoutSession.Mode.SETUP
            else CheckoutSession.PaymentStatus.UNPAID
        ),
        customer_creation=customer_creation,
        setup_future_usage=setup_future_usage,
        subscription_data=subscription_data,
        currency=currency,
        amount_subtotal=subtotal,
        amount_total=total,
        success_url=success_url,
        cancel_url=cancel_url,
        client_reference_id=client_reference_id or None,
        customer=customer,
        customer_email=customer_email or None,
        expires_at=expires_at,
        metadata=md.merge({}, metadata),
        payment_link=payment_link,
        billing_address_collection=billing_address_collection,
        phone_number_collection=phone_number_collection,
        email_collection=email_collection,
        locale=locale,
    )
    for price, quantity in resolved:
        CheckoutSessionLineItem.objects.create(
            public_id=public_id("li"),
            session=session,
            price=price,
            quantity=quantity,
            description=price.product.name,
            currency=price.currency,
            amount_subtotal=price.unit_amount * quantity,
            amount_total=price.unit_amount * quantity,
        )
    return session


def checkout_session_from_link(
    *, payment_link: PaymentLink, now: datetime, prefilled_email: str | None = None
) -> CheckoutSession:
    """What opening a payment link does: a fresh session with the link's basket and settings.

    ``prefilled_email``: the link's URL's ``?prefilled_email=`` (as at Stripe),
    shown in the page's email field, which the payer may still change; an
    address that is not one, or a link that does not ask for the email (so
    the payer would never see it), ignores it rather than refusing the page.
    """
    payment_link = PaymentLink.objects.get(pk=payment_link.pk)
    if prefilled_email is not None:
        prefilled_email = prefilled_email.strip()
        try:
            validate_email(prefilled_email)
        except ValidationError:
            prefilled_email = None
        if not payment_link.email_collection or (prefilled_email and len(prefilled_email) > 254):
            prefilled_email = None
    if not payment_link.active:
        raise InvalidRequest(
            "This payment link is no longer active.", code="payment_link_inactive", param="payment_link"
        )
    items = [
        {"price": item.price, "quantity": item.quantity, "_allow_inactive": True}
        for item in payment_link.line_items.select_related("price__product")
    ]
    return checkout_session_create(
        merchant=payment_link.merchant,
        livemode=payment_link.livemode,
        line_items=items,
        payment_link=payment_link,
        success_url=payment_link.after_completion_redirect_url or None,
        billing_address_collection=payment_link.billing_address_collection,
        phone_number_collection=payment_link.phone_number_collection,
        email_collection=payment_link.email_collection,
        locale=payment_link.locale,
        customer_email=prefilled_email,
        metadata=payment_link.metadata,
        setup_future_usage=payment_link.setup_future_usage,
        mode=payment_link_mode(payment_link),
        subscription_data=payment_link.subscription_data,
        now=now,
    )


def _expire_if_due(session: CheckoutSession, *, now: datetime) -> CheckoutSession:
    if session.status == CheckoutSession.Status.OPEN and session.expires_at <= now:
        with transaction.atomic():
            locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
            if locked.status == CheckoutSession.Status.OPEN and not _payment_in_flight(locked):
                locked.status = CheckoutSession.Status.EXPIRED
                locked.save(update_fields=["status"])
                event_emit(type="checkout.session.expired", obj=locked)
                if locked.payment_intent_id:
                    payments.payment_intent_cards_release_later(locked.payment_intent)
        _subscription_abandon(locked, now=now)
        return locked
    return session


def _subscription_abandon(session: CheckoutSession, *, now: datetime) -> None:
    """An expired subscription-mode session leaves no subscription behind: the one a declined payer started
    (``incomplete``, its first invoice open) has that invoice voided, which ends it (``incomplete_expired``,
    ``customer.subscription.updated``), as 23 hours would have; its card was removed when declined. After the
    session's transaction: voiding cancels the invoice's payment at the processor."""
    if session.status != CheckoutSession.Status.EXPIRED or session.subscription_id is None:
        return
    subscription = Subscription.objects.select_related("latest_invoice").get(pk=session.subscription_id)
    invoice = subscription.latest_invoice
    if subscription.status != Subscription.Status.INCOMPLETE or invoice is None:
        return
    if invoice.status != Invoice.Status.OPEN:
        return
    try:
        invoices.invoice_void(invoice=invoice, now=now)
    except KassaError as exc:  # a payment of it in flight after all: the subscription's own expiry (23 h) ends it
        logger.warning(
            "Subscription %s of expired session %s left incomplete: %s",
            subscription.public_id,
            session.public_id,
            exc.message,
        )


def _payment_in_flight(session: CheckoutSession) -> bool:
    return payment_selectors.payment_in_flight(selectors.checkout_session_payment_intent(session))


def checkout_session_expire(*, session: CheckoutSession) -> CheckoutSession:
    with transaction.atomic():
        locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != CheckoutSession.Status.OPEN:
            raise InvalidRequest(
                f"Only an open session can be expired; this one is {locked.status}.", code="checkout_session_not_open"
            )
        if _payment_in_flight(locked):
            raise InvalidRequest("A payment for this session is in progress.", code="payment_in_progress")
        locked.status = CheckoutSession.Status.EXPIRED
        locked.save(update_fields=["status"])
        event_emit(type="checkout.session.expired", obj=locked)
        if locked.payment_intent_id:
            # Also when the cancel below fails: the expired session ends its PaymentIntent all the same.
            payments.payment_intent_cards_release_later(locked.payment_intent)
    if locked.payment_intent_id:
        payments.payment_intent_cancel(
            payment_intent=locked.payment_intent, cancellation_reason="abandoned", from_owner=True
        )
    _subscription_abandon(locked, now=timezone.now())
    return locked


def checkout_sessions_expire_due(*, now: datetime) -> int:
    """Beat's sweep: open sessions past their expiry become expired."""
    count = 0
    due = CheckoutSession.objects.filter(status=CheckoutSession.Status.OPEN, expires_at__lte=now)
    for session in due.select_related("payment_intent").iterator():
        intent = selectors.checkout_session_payment_intent(session)
        if intent is not None and _payment_in_flight(session):
            # Ask the processor before giving up on it: the payer may have paid and left.
            try:
                payments.payment_intent_refresh(payment_intent=intent)
            except KassaError:
                continue
            session.refresh_from_db()
        if _expire_if_due(session, now=now).status == CheckoutSession.Status.EXPIRED:
            count += 1
    return count


def checkout_session_mark_paid(*, payment_intent: PaymentIntent) -> bool:
    """Registered with payments: called in the transaction that records a PaymentIntent as succeeded; True when
    the PaymentIntent is a session's."""
    session = CheckoutSession.objects.select_for_update().filter(payment_intent=payment_intent).first()
    if session is None:
        return False
    if session.status == CheckoutSession.Status.COMPLETE:
        return True
    # Money taken is money taken: even a session that expired meanwhile is complete once paid.
    session.status = CheckoutSession.Status.COMPLETE
    session.payment_status = CheckoutSession.PaymentStatus.PAID
    session.completed_at = timezone.now()
    session.save(update_fields=["status", "payment_status", "completed_at"])
    event_emit(type="checkout.session.completed", obj=session)
    return True


def checkout_session_ended(*, payment_intent: PaymentIntent) -> bool:
    """Registered with payments: a PaymentIntent whose checkout session expired is never paid (its cards may go)."""
    return CheckoutSession.objects.filter(payment_intent=payment_intent, status=CheckoutSession.Status.EXPIRED).exists()


def checkout_session_receipt_lines(payment_intents: list[PaymentIntent]) -> dict[int, list[tuple[str, int, int, str]]]:
    """Registered with payments: what each session's payer bought, for the receipt, by PaymentIntent (those of
    ``payment_intents`` that are a session's), in two reads for all of them."""
    items = Prefetch("line_items", queryset=CheckoutSessionLineItem.objects.order_by("id"))
    sessions = CheckoutSession.objects.filter(payment_intent__in=payment_intents).prefetch_related(items)
    return {
        session.payment_intent_id: [
            (item.description, item.quantity, item.amount_total, item.currency) for item in session.line_items.all()
        ]
        for session in sessions
    }


def checkout_session_owning(*, payment_intent: PaymentIntent) -> str | None:
    """Registered with payments: a session's PaymentIntent is ended by expiring the session, not canceled."""
    session = CheckoutSession.objects.filter(payment_intent=payment_intent).only("public_id").first()
    if session is None:
        return None
    return f"This PaymentIntent belongs to checkout session {session.public_id}; expire the session instead."


def _same_email(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


def _lock_email(*, merchant, livemode: bool, email: str) -> None:
    """Serialise the lookup-then-insert of one email's customer until the transaction ends."""
    if connection.vendor != "postgresql":
        return  # SQLite: a write transaction (IMMEDIATE) already excludes every other writer
    digest = hashlib.sha256(f"kassa-customer:{merchant.pk}:{int(livemode)}:{email.lower()}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def customer_for_payer(
    *,
    merchant,
    livemode: bool,
    email: str | None,
    name: str | None = None,
    phone: str | None = None,
    address: dict | None = None,
) -> Customer:
    """The customer a link or session payer is: the one with this email (the module's rule), else a new one."""
    if email:
        _lock_email(merchant=merchant, livemode=livemode, email=email)
        existing = (
            catalogue_selectors.customer_list(merchant=merchant, livemode=livemode, email=email).order_by("id").first()
        )
        if existing is not None:
            return existing
    return catalogue.customer_create(
        merchant=merchant, livemode=livemode, email=email, name=name, phone=phone, address=address
    )


def _receipt_language_keep(payment_intent: PaymentIntent, language: str | None) -> None:
    """Paying again after a decline, perhaps with the page now in another language: the receipt follows it."""
    language = mail.language_or_default(language) if language else ""
    if language and payment_intent.receipt_language != language:
        PaymentIntent.objects.filter(pk=payment_intent.pk).update(receipt_language=language)
        payment_intent.receipt_language = language


def _payer_details_check(session: CheckoutSession, *, email, phone, address) -> None:
    """What the session collects must be there, and an email must look like one."""
    if session.email_collection and not email:
        raise InvalidRequest("Enter your email address.", code="parameter_missing", param="email")
    if email and "@" not in email:
        raise InvalidRequest("Enter a valid email address.", code="email_invalid", param="email")
    if session.phone_number_collection and not (phone or "").strip():
        raise InvalidRequest("Enter your phone number.", code="parameter_missing", param="phone")
    if session.billing_address_collection == "required" and not (address or {}).get("line1"):
        raise InvalidRequest("Enter your billing address.", code="parameter_missing", param="address")


def _check_open(session: CheckoutSession, *, mode: str) -> None:
    if session.status != CheckoutSession.Status.OPEN:
        raise InvalidRequest(f"This checkout session is {session.status}.", code="checkout_session_not_open")
    if session.mode != mode:
        raise InvalidRequest(f"This checkout session is in {session.mode} mode.", code="checkout_session_mode")
    if session.merchant.status != Merchant.Status.ACTIVE:
        raise InvalidRequest("This merchant cannot take payments now.", code="account_disabled")


def checkout_session_pay(
    *,
    session: CheckoutSession,
    token: str,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    address: dict | None = None,
    language: str | None = None,
    now: datetime,
) -> PaymentIntent:
    """The hosted page's payment: the payer's details, their card (a Stripe.js token), then a two-phase confirm.

    ``language``: the one the page showed the payer, kept for their receipt.

    Returns the PaymentIntent (``succeeded``, or ``requires_action`` for 3-D
    Secure); a refused card raises CardError and the session stays payable.
    """
    session = _expire_if_due(session, now=now)
    known = CheckoutSession.objects.filter(pk=session.pk).values_list("payment_intent_id", flat=True).first()
    with transaction.atomic():
        # Locks in payments' order: a success is recorded under the PaymentIntent's lock and then completes
        # its session, so the session's PaymentIntent is locked first, then the session (the other way round,
        # two payers racing deadlock). Only a PaymentIntent locked so may change payer here.
        if known is not None:
            PaymentIntent.objects.select_for_update().filter(pk=known).first()
        locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
        payer_may_change = locked.payment_intent_id is None or (
            locked.payment_intent_id == known and payments.payment_intent_payer_may_change(locked.payment_intent)
        )
        _check_open(locked, mode=CheckoutSession.Mode.PAYMENT)
        if locked.payment_link_id and not PaymentLink.objects.filter(pk=locked.payment_link_id, active=True).exists():
            # Deactivating a link stops the sessions it already opened, not only new ones.
            raise InvalidRequest("This payment link is no longer active.", code="payment_link_inactive")
        email = (email or "").strip() or locked.customer_email or (locked.customer.email if locked.customer else None)
        _payer_details_check(locked, email=email, phone=phone, address=address)
        locked.customer_details = {
            "email": email,
            "name": name or None,
            "phone": phone or None,
            "address": catalogue.normalise_address(address) if address else None,
        }
        rematch = locked.customer_matched and not _same_email(email, locked.customer.email)
        if locked.customer is None or (rematch and payer_may_change):
            # Matched by email (this module's rule), again when a payer declined with one email pays with another.
            locked.customer = customer_for_payer(
                merchant=locked.merchant,
                livemode=locked.livemode,
                email=email,
                name=name or None,
                phone=phone or None,
                address=catalogue.normalise_address(address) if address else None,
            )
            locked.customer_matched = True
        if locked.payment_intent is not None and payer_may_change:
            # Not paid yet: the next attempt is for this payer, the receipt to this email.
            locked.payment_intent = payments.payment_intent_payer_set(
                payment_intent=locked.payment_intent, customer=locked.customer, receipt_email=email
            )
            _receipt_language_keep(locked.payment_intent, language)
        if locked.payment_intent is None:
            locked.payment_intent = payments.payment_intent_create(
                merchant=locked.merchant,
                livemode=locked.livemode,
                amount=locked.amount_total,
                currency=locked.currency,
                customer=locked.customer,
                receipt_email=email,
                receipt_language=language,
                setup_future_usage=locked.setup_future_usage or None,
                metadata={"checkout_session": locked.public_id},
                now=now,
            )
        if locked.payment_intent.customer_id != locked.customer_id:
            raise InvalidRequest("This session's payment belongs to another customer.")  # rolls this back
        locked.save()
        payment_intent = locked.payment_intent
    if payment_intent.status == PaymentIntent.Status.SUCCEEDED:
        return payment_intent
    try:
        # For this payment only (not on the customer's saved cards) unless it asks for setup_future_usage,
        # in which case payments saves it once the payment succeeds.
        card = payments.payment_method_create_from_token(
            customer=locked.customer, token=token, single_use_for=payment_intent
        )
    except CardError as exc:
        # Refused when Stripe was asked to save it: the payment failed all the same, and says why.
        payments.payment_intent_card_refused(payment_intent=payment_intent, error=exc)
        raise
    return payments.payment_intent_confirm(payment_intent=payment_intent, payment_method=card)


def checkout_session_sync(*, session: CheckoutSession, now: datetime) -> CheckoutSession:
    """Re-read the session's payment from the processor (after 3-D Secure, or when a page lost track); in
    subscription mode, the first invoice's payment, whose success completes the session (invoicing's hook)."""
    session = CheckoutSession.objects.select_related("payment_intent").get(pk=session.pk)
    intent = selectors.checkout_session_payment_intent(session)
    if intent is not None and session.status == CheckoutSession.Status.OPEN:
        payments.payment_intent_refresh(payment_intent=intent)
        session.refresh_from_db()
    return _expire_if_due(session, now=now)


def checkout_session_save_card(
    *,
    session: CheckoutSession,
    token: str,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    address: dict | None = None,
    now: datetime,
) -> CheckoutSession:
    """A setup-mode session's page: the payer's card (a Stripe.js token) saved on their customer, nothing charged.

    The customer is the session's, else the payer's by email (``customer_for_payer``). The card is
    attached at the processor outside any transaction (``payment_method.attached``); then the
    session is ``complete`` (``checkout.session.completed``). A card refused when attached raises
    CardError and the session stays open. A session expired while the card was being attached
    stays expired, as at Stripe: the card is detached again and ``checkout_session_not_open``
    raised. There is no SetupIntent (Kassa has none): the session's ``setup_intent`` is null and
    the card is ``saved_payment_method``, on the customer's cards.
    """
    session = _expire_if_due(session, now=now)
    with transaction.atomic():
        locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
        _check_open(locked, mode=CheckoutSession.Mode.SETUP)
        email = (email or "").strip() or locked.customer_email or (locked.customer.email if locked.customer else None)
        _payer_details_check(locked, email=email, phone=phone, address=address)
        address = catalogue.normalise_address(address) if address else None
        details = {"email": email, "name": name or None, "phone": phone or None, "address": address}
        locked.customer_details = details
        rematch = locked.customer_matched and not _same_email(email, locked.customer.email)
        if locked.customer is None or rematch:
            # Nothing saved yet: a payer refused with one email who tries with another is that other customer.
            locked.customer = customer_for_payer(
                merchant=locked.merchant,
                livemode=locked.livemode,
                email=email,
                name=name or None,
                phone=phone or None,
                address=address,
            )
            locked.customer_matched = True
        locked.save()
    billing_details = {"email": email, "name": name or None, "phone": phone or None, "address": address}
    card = payments.payment_method_create_from_token(
        customer=locked.customer, token=token, billing_details={k: v for k, v in billing_details.items() if v}
    )
    with transaction.atomic():
        locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == CheckoutSession.Status.COMPLETE:
            return locked  # another tab saved a card first; this one is saved on the customer too
        expired = locked.status == CheckoutSession.Status.EXPIRED
        if not expired:
            locked.status = CheckoutSession.Status.COMPLETE
            locked.saved_payment_method = card
            # The payer whose card this is: another tab may have set other details (and customer) meanwhile.
            locked.customer_id = card.customer_id
            locked.customer_details = details
            locked.completed_at = now
            locked.save(
                update_fields=["status", "saved_payment_method", "customer", "customer_details", "completed_at"]
            )
            event_emit(type="checkout.session.completed", obj=locked)
    if expired:
        # Expired while the card was being saved (the merchant's expire): as at Stripe, the session stays
        # expired and saves nothing, so the card just saved is removed again (``payment_method.detached``).
        try:
            payments.payment_method_detach(payment_method=card)
        except KassaError as exc:
            logger.warning(
                "Card %s saved for expired session %s stays saved: %s", card.public_id, locked.public_id, exc.message
            )
        raise InvalidRequest("This checkout session is expired.", code="checkout_session_not_open")
    return locked


# --- subscription mode -------------------------------------------------------------


def checkout_session_subscribe(
    *,
    session: CheckoutSession,
    token: str,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    address: dict | None = None,
    now: datetime,
) -> CheckoutSession:
    """A subscription-mode session's page: the payer's card (a Stripe.js token) starts the subscription and pays
    its first invoice, on-session (3-D Secure in the payer's browser when the bank asks).

    1. Under the session's lock: the payer's details and their customer (the session's, else by email, as
       ``customer_for_payer``). Committed.
    2. The card is attached to that customer at the processor (no lock held).
    3. Under the session's lock: the subscription is made once (``subscription_create`` with
       ``default_incomplete``: nothing charged there), with the card as its default, and its first invoice is
       finalized; both go on the session. Committed before any charge. A payer retrying after a decline keeps
       that subscription: the new card becomes its default.
    4. The first invoice is paid with the card (invoicing's two-phase ``invoice_pay``, keyed by the invoice's
       own PaymentIntent). Its success, here, after 3-D Secure (``checkout_session_sync``), by Stripe's
       webhook or by the reconciler, completes the session (``checkout_session_invoice_changed``): the
       subscription is ``active``, the card the customer's default too.

    A trial (``subscription_data[trial_period_days]``) charges nothing: the first invoice is zero and paid at
    once, the subscription ``trialing``, the card saved as above. A declined card raises CardError: the card is
    removed from the customer again, the subscription stays ``incomplete`` (not started; never shown on the
    session) and the session open for another card; a session that expires so voids that invoice, which ends
    the subscription (``incomplete_expired``).
    """
    session = _expire_if_due(session, now=now)
    with transaction.atomic():
        locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
        _check_open(locked, mode=CheckoutSession.Mode.SUBSCRIPTION)
        if locked.payment_link_id and not PaymentLink.objects.filter(pk=locked.payment_link_id, active=True).exists():
            raise InvalidRequest("This payment link is no longer active.", code="payment_link_inactive")
        email = (email or "").strip() or locked.customer_email or (locked.customer.email if locked.customer else None)
        _payer_details_check(locked, email=email, phone=phone, address=address)
        address = catalogue.normalise_address(address) if address else None
        locked.customer_details = {"email": email, "name": name or None, "phone": phone or None, "address": address}
        started = _subscription_started(locked)
        rematch = locked.customer_matched and not _same_email(email, locked.customer.email)
        if locked.customer is None or (rematch and not started):
            # Nothing started yet: a payer declined with one email who tries with another is that other customer.
            locked.customer = customer_for_payer(
                merchant=locked.merchant,
                livemode=locked.livemode,
                email=email,
                name=name or None,
                phone=phone or None,
                address=address,
            )
            locked.customer_matched = True
        locked.save()
    if started:
        intent = selectors.checkout_session_payment_intent(locked)
        if intent is not None and payment_selectors.payment_in_flight(intent):
            raise IdempotencyConflict("A payment for this session is in progress.", code="payment_in_progress")
    billing_details = {k: v for k, v in locked.customer_details.items() if v}
    card = payments.payment_method_create_from_token(
        customer=locked.customer, token=token, billing_details=billing_details
    )
    try:
        invoice = _subscription_start(session, card=card, now=now)
    except KassaError:
        _card_forget(card)
        raise
    if invoice.status != Invoice.Status.OPEN:
        return CheckoutSession.objects.get(pk=session.pk)  # a trial, or nothing to charge: complete already
    try:
        invoices.invoice_pay(invoice=invoice, now=now, payment_method=card, off_session=False)
    except CardError as exc:
        if exc.code == "invoice_payment_intent_requires_action":
            return CheckoutSession.objects.get(pk=session.pk)  # the page runs 3-D Secure, then syncs
        _card_forget(card)  # declined
        raise
    except (IdempotencyConflict, InvalidRequest):
        _card_forget(card)  # not charged: another tab's card is paying (or has paid) the invoice
        raise
    return CheckoutSession.objects.get(pk=session.pk)


def _subscription_started(session: CheckoutSession) -> bool:
    """The session's subscription exists and has not ended (a retry after a decline goes on with it)."""
    if session.subscription_id is None:
        return False
    return Subscription.objects.filter(pk=session.subscription_id, ended_at__isnull=True).exists()


def _subscription_start(session: CheckoutSession, *, card: PaymentMethod, now: datetime) -> Invoice:
    """Step 3 of ``checkout_session_subscribe``: the subscription made once (or its default card changed), its
    first invoice finalized, both on the session; committed before the invoice is charged.

    Locks in invoicing's hooks' order: the session's subscription (when it has one), then the session. Another
    tab's payment of the first invoice locks the subscription (``subscription_invoice_changed``) and then the
    session (``checkout_session_invoice_changed``); the other way round, the two deadlocked on PostgreSQL. A
    subscription made by another tab while this one waited for the session: let go, and again in that order."""
    for _attempt in range(3):
        known = CheckoutSession.objects.filter(pk=session.pk).values_list("subscription_id", flat=True).first()
        with transaction.atomic():
            if known is not None:
                list(Subscription.objects.select_for_update().filter(pk=known).values_list("pk", flat=True))
            locked = CheckoutSession.objects.select_for_update().get(pk=session.pk)
            if locked.subscription_id == known:
                return _subscription_start_locked(locked, card=card, now=now)
    raise IdempotencyConflict("A payment for this session is in progress.", code="payment_in_progress")


def _subscription_start_locked(locked: CheckoutSession, *, card: PaymentMethod, now: datetime) -> Invoice:
    _check_open(locked, mode=CheckoutSession.Mode.SUBSCRIPTION)
    if locked.customer_id != card.customer_id:
        raise InvalidRequest("Another payer is paying this session; reload the page.", code="payment_in_progress")
    if _subscription_started(locked):
        subscription = subscriptions.subscription_update(
            subscription=locked.subscription, now=now, default_payment_method=card
        )
    else:
        data = locked.subscription_data or {}
        lines = [(item.price, item.quantity) for item in locked.line_items.select_related("price").order_by("pk")]
        subscription = subscriptions.subscription_create(
            merchant=locked.merchant,
            livemode=locked.livemode,
            customer=locked.customer,
            items=[{"price": price, "quantity": quantity} for price, quantity in lines if _recurring(price)],
            # One-time prices beside the recurring ones: on the first invoice only, as at Stripe.
            add_invoice_items=[
                {"price": price, "quantity": quantity} for price, quantity in lines if not _recurring(price)
            ],
            now=now,
            default_payment_method=card,
            # Nothing charged off-session there: the payer's card pays the first invoice here, on-session.
            payment_behavior="default_incomplete",
            **_subscription_options(locked, data),
        )
        locked.subscription = subscription
        locked.invoice = subscription.latest_invoice
        locked.save(update_fields=["subscription", "invoice"])
    invoice = Invoice.objects.get(pk=locked.invoice_id)
    if invoice.status == Invoice.Status.PAID:
        # Nothing to charge (a trial's zero invoice was paid as it was finalized): complete now.
        _subscription_session_complete(locked, invoice=invoice, now=now)
    return invoice


def _subscription_options(session: CheckoutSession, data: dict) -> dict:
    """The session's ``subscription_data`` as ``subscription_create`` takes it (its checks apply again now)."""
    options = {
        "trial_period_days": data.get("trial_period_days"),
        "description": data.get("description"),
        "metadata": data.get("metadata") or None,
        "proration_behavior": data.get("proration_behavior") or "create_prorations",
    }
    for name in ("trial_end", "billing_cycle_anchor"):
        if data.get(name):
            options[name] = datetime.fromtimestamp(data[name], tz=UTC)
    if data.get("default_tax_rates"):
        options["default_tax_rates"] = list(
            TaxRate.objects.filter(
                merchant=session.merchant, livemode=session.livemode, public_id__in=data["default_tax_rates"]
            ).order_by("pk")
        )
    return options


def _card_forget(card: PaymentMethod) -> None:
    """A card that did not pay (declined, or the session could not go on) is not kept on the customer."""
    try:
        payments.payment_method_detach(payment_method=PaymentMethod.objects.get(pk=card.pk))
    except KassaError as exc:
        logger.warning("Card %s refused in checkout stays saved: %s", card.public_id, exc.message)


def _subscription_session_complete(session: CheckoutSession, *, invoice: Invoice, now: datetime) -> None:
    """On the locked session whose subscription's first invoice is paid: complete, with the subscription, the
    invoice and the amounts it billed; the card becomes the customer's default too."""
    if session.status == CheckoutSession.Status.COMPLETE:
        return
    # Money taken is money taken: even a session that expired meanwhile is complete once its invoice is paid.
    session.status = CheckoutSession.Status.COMPLETE
    paid = invoice.amount_paid > 0
    session.payment_status = S.PAID if paid else S.NO_PAYMENT_REQUIRED
    session.amount_subtotal = invoice.subtotal
    session.amount_total = invoice.total
    session.completed_at = now
    session.save(update_fields=["status", "payment_status", "amount_subtotal", "amount_total", "completed_at"])
    subscription = Subscription.objects.get(pk=session.subscription_id)
    # The card that paid is the default: two tabs paying at once each made another card the subscription's
    # default before one of them paid (a trial's card is the one it was made with).
    intent = selectors.checkout_session_payment_intent(session)
    card = intent.payment_method if intent is not None and intent.payment_method_id else None
    if card is None or card.customer_id != session.customer_id:
        card = subscription.default_payment_method
    if card is not None and card.customer_id == session.customer_id:
        if subscription.default_payment_method_id != card.pk:
            subscriptions.subscription_update(subscription=subscription, now=now, default_payment_method=card)
        customer = Customer.objects.get(pk=session.customer_id)
        if customer.default_payment_method_id != card.pk and not customer.deleted:
            catalogue.customer_update(customer=customer, default_payment_method=card)
    event_emit(type="checkout.session.completed", obj=session)


def checkout_session_invoice_changed(*, invoice: Invoice, change: str, now: datetime) -> None:
    """Invoicing's hook (registered in billing/apps.py after subscriptions', in the transaction that records the
    change): a subscription-mode session completes when its first invoice is paid."""
    if change != invoice_hooks.PAID or invoice.subscription_id is None:
        return
    if invoice.billing_reason != Invoice.BillingReason.SUBSCRIPTION_CREATE:
        return  # a session's invoice is its subscription's first: a renewal's never completes one (and costs no lock)
    session = (
        CheckoutSession.objects.select_for_update()
        .filter(invoice=invoice, mode=CheckoutSession.Mode.SUBSCRIPTION)
        .exclude(status=CheckoutSession.Status.COMPLETE)
        .first()
    )
    if session is not None:
        _subscription_session_complete(session, invoice=invoice, now=now)
