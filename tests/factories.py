"""Test data made through the same services the product uses."""

import hashlib
import hmac
import json
import time
from itertools import count

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice

from billing.catalogue import services as catalogue
from billing.checkout import services as checkout
from billing.clocks import services as clocks
from billing.invoices import numbering as invoice_numbering
from billing.invoices import services as invoices
from billing.payments import services as payments
from billing.portal import services as portal
from billing.subscriptions import services as subscriptions
from merchants import services, two_factor
from merchants.models import Membership
from webhooks.models import Event
from webhooks.services import endpoints, inbound

_seq = count(1)


def merchant(name: str = "Shop", **kwargs) -> services.MerchantCreated:
    n = next(_seq)
    return services.merchant_create(
        name=name, owner_email=f"owner{n}@{name.lower()}.test", owner_password="pw", **kwargs
    )


def live_secret_key(merchant) -> str:
    return services.api_key_create(merchant=merchant, livemode=True, kind="secret").secret


def restricted_key(merchant, permissions: dict, livemode: bool = False) -> str:
    return services.api_key_create(
        merchant=merchant, livemode=livemode, kind="restricted", permissions=permissions
    ).secret


def staff(merchant, role: str = Membership.Role.OWNER, email: str | None = None):
    email = email or f"{role}{next(_seq)}@{merchant.name.lower().replace(' ', '')}.test"
    membership = services.membership_add(merchant=merchant, email=email, role=role)
    user = membership.user
    user.set_password("pw")
    user.save()
    return user


def platform_staff():
    User = get_user_model()
    return User.objects.create_superuser(username=f"root{next(_seq)}", email="root@kassa.test", password="pw")


# --- billing: made through the same services the API and the dashboard use ----------------


def product(merchant, *, name: str = "Tea", livemode: bool = False, **fields):
    return catalogue.product_create(merchant=merchant, livemode=livemode, name=name, **fields)


def price(merchant, *, unit_amount: int = 1250, currency: str = "eur", product=None, livemode: bool = False, **fields):
    product = product or catalogue.product_create(merchant=merchant, livemode=livemode, name="Tea")
    return catalogue.price_create(
        merchant=merchant, livemode=livemode, product=product, currency=currency, unit_amount=unit_amount, **fields
    )


def _tea(merchant, livemode: bool):
    return price(merchant, livemode=livemode)


def customer(merchant, *, email: str = "payer@example.com", livemode: bool = False, **fields):
    return catalogue.customer_create(merchant=merchant, livemode=livemode, email=email, **fields)


def payment_link(merchant, *, price=None, quantity: int = 1, livemode: bool = False, **options):
    price = price or _tea(merchant, livemode)
    return checkout.payment_link_create(
        merchant=merchant, livemode=livemode, line_items=[{"price": price, "quantity": quantity}], **options
    )


def checkout_session(payment_link, *, now=None):
    return checkout.checkout_session_from_link(payment_link=payment_link, now=now or timezone.now())


def saved_card(customer, card_token, number: str = "4242424242424242"):
    """A card the payer gave (a Stripe.js token made at the processor), saved on the customer."""
    return payments.payment_method_create_from_token(customer=customer, token=card_token(number))


def paid_payment(merchant, card_token, *, amount: int = 2000, currency: str = "eur", customer=None):
    """A succeeded PaymentIntent, charged at the processor (the merchant needs Stripe credentials)."""
    customer = customer or catalogue.customer_create(merchant=merchant, livemode=False, email="payer@example.com")
    card = saved_card(customer, card_token)
    return payments.payment_intent_create_and_confirm(
        now=timezone.now(),
        merchant=merchant,
        livemode=False,
        amount=amount,
        currency=currency,
        customer=customer,
        payment_method=card,
    )


def open_invoice(merchant, *, customer, price, quantity: int = 1, tax_rates=(), livemode: bool = False, **fields):
    """A finalized (open) ``send_invoice`` invoice of one line from ``price``, made through the services."""
    now = timezone.now()
    draft = invoices.invoice_create(
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        now=now,
        currency=price.currency,
        collection_method="send_invoice",
        days_until_due=30,
        **fields,
    )
    invoices.invoice_item_create(
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        invoice=draft,
        now=now,
        price=price,
        quantity=quantity,
        tax_rates=list(tax_rates),
    )
    return invoices.invoice_finalize(invoice=draft, now=now)


def recurring_price(
    merchant, *, unit_amount: int = 5000, currency: str = "eur", interval: str = "month", interval_count: int = 1
):
    return price(
        merchant,
        unit_amount=unit_amount,
        currency=currency,
        recurring={"interval": interval, "interval_count": interval_count},
    )


def subscription(merchant, *, customer, price=None, quantity: int = 1, now=None, **options):
    """A subscription of ``customer`` to one recurring price, made through the services (its first invoice
    finalized and, with a default card, charged)."""
    price = price or recurring_price(merchant)
    return subscriptions.subscription_create(
        merchant=merchant,
        livemode=False,
        customer=customer,
        items=[{"price": price, "quantity": quantity}],
        now=now or timezone.now(),
        **options,
    )


def subscriptions_copied(template, *, customers) -> list:
    """Many subscriptions in one go, for tests and benchmarks at scale: ``template`` (made by ``subscription``,
    through the services) copied onto each of ``customers``, with ``bulk_create``.

    Each copy is what the services leave after a subscription's first invoice was paid: the template's status,
    prices, quantities, tax rates, anchor, current period and ``next_renewal_at``, with ids of its own. Two
    things the services would also have made are left out: the copy's first invoice (``latest_invoice`` is
    empty, so the first invoice a copy gets is its renewal's) and its ``customer.subscription.created``
    event. ``default_payment_method`` is left empty: each copy is charged on its own customer's default card.
    """
    from billing.subscriptions.models import Subscription, SubscriptionItem
    from kassa.ids import public_id

    items = list(template.items.order_by("pk"))
    skip = {"id", "public_id", "customer", "default_payment_method", "latest_invoice", "updated"}
    fields = {f.attname: getattr(template, f.attname) for f in Subscription._meta.concrete_fields if f.name not in skip}
    copies = Subscription.objects.bulk_create(
        [Subscription(public_id=public_id(Subscription.PREFIX), customer=c, **fields) for c in customers],
        batch_size=500,
    )
    item_fields = [
        {f.attname: getattr(item, f.attname) for f in SubscriptionItem._meta.concrete_fields}
        | {"id": None, "public_id": None, "subscription_id": None}
        for item in items
    ]
    made = SubscriptionItem.objects.bulk_create(
        [
            SubscriptionItem(**(values | {"public_id": public_id(SubscriptionItem.PREFIX), "subscription_id": copy.pk}))
            for copy in copies
            for values in item_fields
        ],
        batch_size=500,
    )
    rates = list(template.default_tax_rates.all())
    if rates:
        through = Subscription.default_tax_rates.through
        through.objects.bulk_create(
            [through(subscription_id=copy.pk, taxrate_id=rate.pk) for copy in copies for rate in rates]
        )
    item_rates = [list(item.tax_rates.all()) for item in items]
    if any(item_rates):
        through = SubscriptionItem.tax_rates.through
        through.objects.bulk_create(
            [
                through(subscriptionitem_id=item.pk, taxrate_id=rate.pk)
                for n, item in enumerate(made)
                for rate in item_rates[n % len(items)]
            ]
        )
    return copies


def webhook_endpoint(merchant, *, url: str = "https://93.184.215.14/hooks", livemode: bool = False):
    endpoint, _secret = endpoints.webhook_endpoint_create(
        merchant=merchant, livemode=livemode, url=url, enabled_events=["*"]
    )
    return endpoint


def stripe_event(merchant, *, webhook_secret: str, event_id: str = "evt_stripe_1"):
    """A Stripe event for ``merchant``, signed with its signing secret and stored by the real receiving service."""
    body = json.dumps(
        {"id": event_id, "object": "event", "type": "payment_intent.succeeded", "livemode": False}
        | {"data": {"object": {"id": "pi_from_stripe"}}}
    ).encode()
    timestamp = int(time.time())
    signature = hmac.new(webhook_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    event, _ = inbound.processor_event_receive(
        merchant_id=merchant.public_id, mode="test", body=body, signature=f"t={timestamp},v1={signature}"
    )
    return event


def every_dashboard_object(name: str, card_token) -> dict:
    """A merchant with one object of every model the dashboard shows, keyed by model label.

    Made as people make them: through the services, logins through the login
    form, two-factor set up with a code. A test that walks ``admin.site`` fails
    with "add a factory for …" when a new model has no entry here.
    """
    shop = merchant(name)
    m = shop.merchant
    webhook_secret = f"whsec_{name.lower()}0000sweep"
    credential = services.processor_credential_set(
        merchant=m, livemode=False, secret_key=f"sk_test_{name.lower()}_paying", webhook_secret=webhook_secret
    )
    tea = price(m, product=product(m, name=f"{name} secret tea"))
    payer = customer(m, email=f"payer@{name.lower()}.test", name=f"Ada {name}")
    paid = paid_payment(m, card_token, customer=payer)
    # Their default card: the customer's page shows it, and its buttons are swept.
    payer = catalogue.customer_update(customer=payer, default_payment_method=paid.payment_method)
    refund = payments.refund_create(payment_intent=paid, amount=100)
    link = payment_link(m, price=tea)
    vat = invoices.tax_rate_create(
        merchant=m, livemode=False, display_name=f"{name} VAT", percentage="20", inclusive=False
    )
    invoice = open_invoice(m, customer=payer, price=tea, tax_rates=[vat])
    pending_item = invoices.invoice_item_create(
        merchant=m,
        livemode=False,
        customer=payer,
        now=timezone.now(),
        amount=990,
        currency="eur",
        description=f"{name} pending cups",
    )
    endpoint = webhook_endpoint(m, url=f"https://93.184.215.14/{name.lower()}-hooks")
    # A monthly subscription on their default card, its first invoice paid.
    plan = price(m, product=product(m, name=f"{name} monthly plan"), unit_amount=5000, recurring={"interval": "month"})
    sub = subscription(m, customer=payer, price=plan)
    clock = clocks.clock_create(
        now=timezone.now(), merchant=m, livemode=False, frozen_time=timezone.now(), name=f"{name} clock"
    )
    portal_settings = portal.portal_configuration_update(
        configuration=portal.portal_configuration_for(merchant=m, livemode=False),
        headline=f"{name} members' corner",
        default_return_url=f"https://{name.lower()}.example/account",
        customer_update_email=True,
    )
    # The login records and two-factor devices of the owner.
    login = Client()
    login.post("/admin/login/", {"username": shop.owner.email, "password": "pw"})
    login.post("/admin/login/", {"username": shop.owner.email, "password": "wrong"})
    pending = two_factor.two_factor_start(user=shop.owner)
    two_factor.two_factor_confirm(user=shop.owner, token=f"{totp(pending.device.bin_key):06d}")
    return {
        "shop": shop,
        "card": paid.payment_method,
        "objects": {
            "axes.AccessAttempt": AccessAttempt.objects.get(username=shop.owner.email),
            "axes.AccessFailureLog": AccessFailureLog.objects.get(username=shop.owner.email),
            "axes.AccessLog": AccessLog.objects.get(username=shop.owner.email),
            "otp_totp.TOTPDevice": pending.device,
            "otp_static.StaticDevice": StaticDevice.objects.get(user=shop.owner),
            "auth.Group": Group.objects.create(name=f"{name} accountants"),
            "auth.User": shop.owner,
            "merchants.Merchant": m,
            "merchants.Membership": Membership.objects.get(merchant=m, user=shop.owner),
            "merchants.APIKey": shop.secret_key.api_key,
            "merchants.ProcessorCredential": credential,
            "billing.Product": tea.product,
            "billing.Price": tea,
            "billing.Customer": payer,
            "billing.PaymentLink": link,
            "billing.PaymentIntent": paid,
            "billing.Refund": refund,
            "billing.CheckoutSession": checkout_session(link),
            "billing.TaxRate": vat,
            "billing.TestClock": clock,
            "billing.PortalConfiguration": portal_settings,
            "billing.Invoice": invoice,
            "billing.InvoiceItem": pending_item,
            "billing.DunningSettings": invoices.dunning_settings_update(merchant=m, livemode=False, retry_days=[2, 4]),
            "billing.Subscription": sub,
            "billing.InvoiceSettings": invoice_numbering.invoice_settings_update(
                merchant=m, legal_name=f"{name} SAS", city="Paris", country="FR", vat_number="FR12345678901"
            ),
            "webhooks.WebhookEndpoint": endpoint,
            "webhooks.Event": Event.objects.filter(merchant=m, type="customer.created").get(),
            "webhooks.ProcessorEvent": stripe_event(m, webhook_secret=webhook_secret, event_id=f"evt_{name.lower()}_1"),
        },
    }
