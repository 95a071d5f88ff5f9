"""Every write of the customer portal (keyword-only arguments): settings, sessions, and what a payer changes.

What shaped it:

- A session's URL must be opened within ``URL_LIFETIME`` (5 minutes, as at Stripe) of its creation;
  opening it (``portal_session_open``) starts the session, which then lasts ``SESSION_LENGTH`` (1 hour)
  in the browser that opened it (pages.py binds it with a cookie). After that the payer asks the
  merchant's site for a new one (the "Return to …" link).
- Emails cannot carry a 5-minute URL, so ``portal_link_for_customer`` makes a long-lived signed link
  (``LINK_LIFETIME``, 30 days: longer than the default dunning schedule) whose opening makes a fresh
  session (``portal_session_from_link``) with the settings' default return URL. That link is what the
  dunning emails' "Update your card" button carries.
- What a payer changes goes through the services the API uses, so whatever reacts to those reacts to
  the portal too: a new card is saved by ``payments.payment_method_create_from_token`` and made the
  default by ``catalogue.customer_update(default_payment_method=…)``, exactly as
  ``POST /v1/customers/{id}`` with ``invoice_settings[default_payment_method]`` does; email and address
  are validated and written by the same ``customer_update``; a subscription is cancelled at period end,
  kept, or switched to another price by the subscriptions core's ``subscription_update``.
- Every write checks the session first (opened, not expired) and touches the session's customer
  only: nothing a payer sends names another object.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from kassa.errors import InvalidRequest
from kassa.ids import public_id, random_string
from webhooks.services.outbox import event_emit, render

from ..catalogue import services as catalogue
from ..catalogue.models import Customer, Price
from ..payments import services as payments
from ..payments.models import PaymentMethod
from ..subscriptions import services as subscriptions
from ..subscriptions.models import Subscription
from . import selectors
from .models import PortalConfiguration, PortalSession

#: How long a new session's URL may wait to be opened (Stripe: 5 minutes).
URL_LIFETIME = timedelta(minutes=5)
#: How long a session lasts once opened, in the browser that opened it.
SESSION_LENGTH = timedelta(hours=1)
#: How long an emailed portal link (``portal_link_for_customer``) opens a fresh session.
LINK_LIFETIME = timedelta(days=30)
LINK_SALT = "kassa.portal.link"
TOKEN_LENGTH = 43
URL_MAX = 2048
HEADLINE_MAX = 60

CONFIGURATION_FIELDS = (
    "payment_method_update",
    "invoice_history",
    "customer_update_email",
    "customer_update_address",
    "subscription_cancel",
    "cancellation_reasons",
    "subscription_update",
    "subscription_update_quantity",
    "headline",
    "privacy_policy_url",
    "terms_of_service_url",
    "default_return_url",
)
URL_FIELDS = ("privacy_policy_url", "terms_of_service_url", "default_return_url")


# --- settings -----------------------------------------------------------------------------


def portal_configuration_for(*, merchant, livemode: bool) -> PortalConfiguration:
    """The merchant's portal settings in this mode, made with Stripe's defaults on first use."""
    found = PortalConfiguration.objects.filter(merchant=merchant, livemode=livemode).first()
    if found is not None:
        return found
    with transaction.atomic():
        configuration, _created = PortalConfiguration.objects.get_or_create(
            merchant=merchant, livemode=livemode, defaults={"public_id": public_id(PortalConfiguration.PREFIX)}
        )
    return configuration


def url_check(value: str | None, *, param: str) -> str | None:
    """An absolute http(s) URL of at most 2048 characters, or None for an empty one."""
    if not value:
        return None
    if not isinstance(value, str) or len(value) > URL_MAX:
        raise InvalidRequest(f"Invalid URL: {param} must be at most {URL_MAX} characters.", param=param)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InvalidRequest(f"Invalid URL: {param} must be an absolute http(s) URL.", param=param)
    return value


@transaction.atomic
def portal_configuration_update(
    *, configuration: PortalConfiguration, subscription_update_prices: list[Price] | None = None, **changes
) -> PortalConfiguration:
    """Change what the portal offers; ``subscription_update_prices``: the merchant's recurring prices in this
    mode that a payer may switch between (None: unchanged)."""
    configuration = PortalConfiguration.objects.select_for_update().get(pk=configuration.pk)
    unknown = set(changes) - set(CONFIGURATION_FIELDS)
    if unknown:
        raise InvalidRequest(f"Received unknown parameter: {sorted(unknown)[0]}", code="parameter_unknown")
    for name in URL_FIELDS:
        if name in changes:
            changes[name] = url_check(changes[name], param=name) or ""
    if "headline" in changes:
        changes["headline"] = (changes["headline"] or "").strip()
        if len(changes["headline"]) > HEADLINE_MAX:
            raise InvalidRequest(f"The headline is at most {HEADLINE_MAX} characters.", param="headline")
    if "cancellation_reasons" in changes:
        reasons = list(changes["cancellation_reasons"] or [])
        if set(reasons) - set(PortalConfiguration.CancellationReason.values):
            raise InvalidRequest("Unknown cancellation reason.", param="cancellation_reasons")
        changes["cancellation_reasons"] = [r for r in PortalConfiguration.CancellationReason.values if r in reasons]
    for name, value in changes.items():
        setattr(configuration, name, value)
    configuration.save()
    if subscription_update_prices is not None:
        for price in subscription_update_prices:
            if (price.merchant_id, price.livemode) != (configuration.merchant_id, configuration.livemode):
                raise InvalidRequest(f"No such price: '{price.public_id}'", param="subscription_update_prices")
            if price.type != Price.Type.RECURRING:
                raise InvalidRequest(
                    f"{price.public_id} is not a recurring price: only those can be switched between.",
                    param="subscription_update_prices",
                )
        configuration.subscription_update_prices.set(subscription_update_prices)
    return configuration


# --- sessions -----------------------------------------------------------------------------


def _locale(locale: str | None) -> str | None:
    if locale in (None, "", "auto"):
        return None if locale in (None, "") else "auto"
    if not isinstance(locale, str) or not catalogue.LOCALE_PATTERN.match(locale):
        raise InvalidRequest(f"Invalid locale: {str(locale)[:20]}. Use a language tag such as fr or fr-FR.")
    return locale


@transaction.atomic
def portal_session_create(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    now: datetime,
    return_url: str | None = None,
    locale: str | None = None,
    return_url_required: bool = True,
) -> PortalSession:
    """A new session for one of the merchant's customers (in this mode); its URL opens once, within 5 minutes.

    Without ``return_url`` the settings' default return URL is used; without either the session is refused,
    unless ``return_url_required`` is false (an emailed link's session: it then has no "Return to …" link).
    """
    if (customer.merchant_id, customer.livemode) != (merchant.pk, livemode) or customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    configuration = portal_configuration_for(merchant=merchant, livemode=livemode)
    return_url = url_check(return_url, param="return_url") or configuration.default_return_url or None
    if return_url is None and return_url_required:
        raise InvalidRequest(
            "Missing required param: return_url (or set a default return URL in the dashboard: Settings, "
            "Customer portal).",
            code="parameter_missing",
            param="return_url",
        )
    session = PortalSession.objects.create(
        public_id=public_id(PortalSession.PREFIX),
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        configuration=configuration,
        return_url=return_url,
        locale=_locale(locale),
        token=random_string(TOKEN_LENGTH),
        created=now,
        url_expires_at=now + URL_LIFETIME,
    )
    # The event carries the session without its URL: the URL is the customer's credential, answered once to
    # the caller, and events reach more readers (webhook endpoints, keys with events:read) than that.
    event_emit(type="billing_portal.session.created", obj=session, data_object={**render(session), "url": None})
    return session


def portal_session_url(session: PortalSession) -> str:
    return f"{settings.KASSA_PUBLIC_URL.rstrip('/')}{reverse('portal:page', args=[session.token])}"


class SessionExpired(InvalidRequest):
    def __init__(self):
        super().__init__("This customer portal session has expired.", code="portal_session_expired")


@transaction.atomic
def portal_session_open(*, session: PortalSession, now: datetime) -> PortalSession:
    """The first visit of the URL: the session starts and lasts ``SESSION_LENGTH``. A URL not opened within
    ``URL_LIFETIME``, or one opened already, raises ``SessionExpired`` (the page shows it expired)."""
    session = PortalSession.objects.select_for_update().select_related("customer").get(pk=session.pk)
    if session.opened_at is not None or now >= session.url_expires_at or session.customer.deleted:
        raise SessionExpired
    session.opened_at = now
    session.expires_at = now + SESSION_LENGTH
    session.save(update_fields=["opened_at", "expires_at"])
    return session


def portal_session_check(*, session: PortalSession, now: datetime) -> None:
    """Raises ``SessionExpired`` unless the session was opened, has not expired, and its customer still exists."""
    if session.opened_at is None or session.expires_at is None or now >= session.expires_at:
        raise SessionExpired
    if session.customer.deleted:
        raise SessionExpired


# --- links for emails ---------------------------------------------------------------------


def portal_link_for_customer(*, customer: Customer, now: datetime) -> str:
    """A link (valid ``LINK_LIFETIME``) that opens a fresh portal session for ``customer``: for emails, such as
    the dunning emails' "Update your card"."""
    signed = signing.dumps({"c": customer.public_id, "t": int(now.timestamp())}, salt=LINK_SALT, compress=True)
    return f"{settings.KASSA_PUBLIC_URL.rstrip('/')}{reverse('portal:link', args=[signed])}"


def portal_card_update_link(*, invoice, now: datetime) -> str | None:
    """Dunning's "give a new card" link for ``invoice``'s customer: the portal, when the merchant lets customers
    update their card there (``None`` otherwise: the email links the hosted invoice page instead)."""
    configuration = portal_configuration_for(merchant=invoice.merchant, livemode=invoice.livemode)
    if not configuration.payment_method_update:
        return None
    return portal_link_for_customer(customer=invoice.customer, now=now)


def portal_session_from_link(*, signed: str, now: datetime) -> PortalSession:
    """The session a link from ``portal_link_for_customer`` opens now (made and opened at once).

    A forged, altered or expired link, or one for a customer deleted since, raises ``SessionExpired``.
    """
    try:
        data = signing.loads(signed, salt=LINK_SALT)
        issued = datetime.fromtimestamp(int(data["t"]), tz=UTC)
        customer_id = str(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise SessionExpired from None
    if not (issued - timedelta(minutes=5) <= now <= issued + LINK_LIFETIME):
        raise SessionExpired
    customer = Customer.objects.select_related("merchant").filter(public_id=customer_id, deleted=False).first()
    if customer is None:
        raise SessionExpired
    session = portal_session_create(
        merchant=customer.merchant, livemode=customer.livemode, customer=customer, now=now, return_url_required=False
    )
    return portal_session_open(session=session, now=now)


# --- what the payer changes ---------------------------------------------------------------


def _feature_check(enabled: bool) -> None:
    if not enabled:
        raise InvalidRequest("This customer portal does not offer that.", code="portal_feature_disabled")


def portal_card_update(*, session: PortalSession, token: str, name: str | None = None, now: datetime) -> PaymentMethod:
    """The payer's new card (a Stripe.js token) saved on their customer and made their default card.

    The same two services as the API's ``POST /v1/payment_methods`` then ``POST /v1/customers/{id}`` with
    ``invoice_settings[default_payment_method]``: anything that reacts to a customer's new default card
    (dunning's immediate retry) reacts to this one. A refused card raises CardError; nothing changes then.
    """
    portal_session_check(session=session, now=now)
    _feature_check(session.configuration.payment_method_update)
    customer = Customer.objects.get(pk=session.customer_id)
    card = payments.payment_method_create_from_token(
        customer=customer, token=token, billing_details={"name": name} if name else None
    )
    catalogue.customer_update(customer=customer, default_payment_method=card)
    return card


def portal_customer_update(
    *, session: PortalSession, now: datetime, email: str | None = None, address: dict | None = None
) -> Customer:
    """The payer's email and/or billing address, each only if the settings allow it, validated as the API does."""
    portal_session_check(session=session, now=now)
    configuration = session.configuration
    changes = {}
    if email is not None:
        _feature_check(configuration.customer_update_email)
        email = email.strip()
        if not email:
            raise InvalidRequest("Enter your email address.", code="email_invalid", param="email")
        changes["email"] = email
    if address is not None:
        _feature_check(configuration.customer_update_address)
        if not address.get("line1") or not address.get("country"):
            raise InvalidRequest("Enter your billing address.", param="address")
        changes["address"] = address
    customer = Customer.objects.get(pk=session.customer_id)
    if not changes:
        return customer
    return catalogue.customer_update(customer=customer, **changes)


# --- the customer's subscriptions (the Subscriptions section) -----------------------------------

#: Statuses in which a payer may schedule a cancellation (as Stripe's portal: not an incomplete, unpaid or paused one).
CANCELABLE = (Subscription.Status.ACTIVE, Subscription.Status.TRIALING, Subscription.Status.PAST_DUE)
#: Statuses in which a payer may switch plans (Stripe's portal: not while a payment is overdue).
SWITCHABLE = (Subscription.Status.ACTIVE, Subscription.Status.TRIALING)
#: What a switch bills: Stripe's portal default, the unused and remaining time as pending items on the next invoice.
SWITCH_PRORATION = "create_prorations"
COMMENT_MAX = 500
#: The most a payer may subscribe to on the portal (seats, licences…): more is the merchant's to agree.
QUANTITY_MAX = 999


def _own_subscription(session: PortalSession, subscription_id) -> Subscription:
    """The session's customer's subscription named by a form, refused like a missing one whatever else it names."""
    subscription = selectors.portal_subscription(session=session, subscription_id=subscription_id)
    if subscription is None:
        raise InvalidRequest("No such subscription.", code="resource_missing", param="subscription")
    return subscription


def _unexpected_state(subscription: Subscription) -> InvalidRequest:
    return InvalidRequest(
        f"Subscription {subscription.public_id} is {subscription.status}: the portal cannot change that now.",
        code="subscription_unexpected_state",
        param="subscription",
    )


def can_cancel(subscription: Subscription) -> bool:
    return subscription.status in CANCELABLE and not subscription.cancel_at_period_end


def can_switch(subscription: Subscription) -> bool:
    """One item (Stripe's portal does not switch subscriptions of several products), not ending."""
    return (
        subscription.status in SWITCHABLE
        and not subscription.cancel_at_period_end
        and subscription.cancel_at is None
        and len(subscription.items.all()) == 1
    )


def updatable(subscription: Subscription, offered: list) -> bool:
    """Whether the portal may change this subscription's item (switch its price, change its quantity): one item,
    not ending (``can_switch``), and, as at Stripe, whose portal updates only the subscriptions to the products the
    merchant lists (``features.subscription_update.products``), its product one of those of the prices the merchant
    offers (``offered``: ``selectors.portal_switch_prices``, Settings → Customer portal). A subscription to another
    product (a plan made for one customer, one no longer sold) is changed by the merchant only."""
    if not can_switch(subscription):
        return False
    product = subscription.items.all()[0].price.product_id
    return any(price.product_id == product for price in offered)


def portal_subscription_cancel(
    *, session: PortalSession, subscription_id: str, now: datetime, feedback: str = "", comment: str = ""
) -> Subscription:
    """Cancel at the end of the current period, with the payer's reason (one of the merchant's) and comment,
    as Stripe's portal does: ``cancel_at_period_end=true`` and ``cancellation_details``."""
    portal_session_check(session=session, now=now)
    configuration = session.configuration
    _feature_check(configuration.subscription_cancel)
    subscription = _own_subscription(session, subscription_id)
    if not can_cancel(subscription):
        raise _unexpected_state(subscription)
    if feedback and feedback not in configuration.cancellation_reasons:
        raise InvalidRequest("Choose one of the reasons offered.", param="cancellation_details[feedback]")
    if len(comment) > COMMENT_MAX:
        raise InvalidRequest(
            f"The comment is at most {COMMENT_MAX} characters.", code="field_too_long", param="comment"
        )
    return subscriptions.subscription_update(
        subscription=subscription,
        now=now,
        cancel_at_period_end=True,
        cancellation_details={"feedback": feedback or None, "comment": comment or None},
    )


def portal_subscription_keep(*, session: PortalSession, subscription_id: str, now: datetime) -> Subscription:
    """Undo a cancellation at period end ("Keep my subscription"): it renews again. The reason given for the
    cancellation is cleared with it (customer.subscription.updated's previous_attributes keep it)."""
    portal_session_check(session=session, now=now)
    _feature_check(session.configuration.subscription_cancel)
    subscription = _own_subscription(session, subscription_id)
    if not subscription.cancel_at_period_end:
        return subscription  # kept already (a second click, another tab): nothing to undo
    return subscriptions.subscription_update(
        subscription=subscription,
        now=now,
        cancel_at_period_end=False,
        cancellation_details={"feedback": None, "comment": None},
    )


def portal_subscription_switch(
    *, session: PortalSession, subscription_id: str, price_id: str, now: datetime
) -> Subscription:
    """Switch the subscription's one item to another of the prices the merchant offers, prorated as Stripe's
    portal does by default (``SWITCH_PRORATION``). The subscriptions core decides the rest (currency, interval)
    and refuses what it does not do."""
    subscription = _item_changeable(session, subscription_id, now, session.configuration.subscription_update)
    price = selectors.portal_switch_prices(session=session).filter(public_id=price_id or "").first()
    if price is None:
        raise InvalidRequest("This plan is not offered here.", code="resource_missing", param="price")
    return _item_change(subscription, now, "price", price)


def portal_subscription_quantity(
    *, session: PortalSession, subscription_id: str, quantity, now: datetime
) -> Subscription:
    """Change how many of its one item the subscription bills (seats, licences), from 1 to ``QUANTITY_MAX``, prorated
    as a plan switch is (``SWITCH_PRORATION``: the difference for the rest of the period on the next invoice), as
    Stripe's portal does with quantity updates allowed. The subscriptions core decides the rest."""
    allowed = session.configuration.subscription_update_quantity
    subscription = _item_changeable(session, subscription_id, now, allowed)
    try:
        quantity = int(str(quantity).strip())
    except ValueError:
        quantity = 0
    if not 1 <= quantity <= QUANTITY_MAX:
        raise InvalidRequest(f"The quantity must be a whole number from 1 to {QUANTITY_MAX}.", param="quantity")
    return _item_change(subscription, now, "quantity", quantity)


def _item_changeable(session: PortalSession, subscription_id: str, now: datetime, allowed: bool) -> Subscription:
    """The session's customer's subscription ``subscription_id``, whose one item the portal may change (a plan
    switch, a quantity), with the merchant's setting for that change (``allowed``)."""
    portal_session_check(session=session, now=now)
    _feature_check(allowed)
    subscription = _own_subscription(session, subscription_id)
    if not can_switch(subscription):
        raise _unexpected_state(subscription)
    if not updatable(subscription, list(selectors.portal_switch_prices(session=session))):
        raise InvalidRequest(
            "This customer portal does not offer changes to this subscription's product.",
            code="portal_feature_disabled",
            param="subscription",
        )
    return subscription


def _item_change(subscription: Subscription, now: datetime, name: str, value) -> Subscription:
    """The subscription's one item's ``name`` (``price``, ``quantity``) set to ``value``, prorated as Stripe's
    portal does (``SWITCH_PRORATION``); nothing when it holds that already."""
    item = subscription.items.all()[0]
    if getattr(item, item._meta.get_field(name).attname) == getattr(value, "pk", value):
        return subscription
    return subscriptions.subscription_update(
        subscription=subscription,
        now=now,
        items=[{"id": item.public_id, name: value}],
        proration_behavior=SWITCH_PRORATION,
    )
