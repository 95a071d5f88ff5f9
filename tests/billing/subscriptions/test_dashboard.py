"""Subscriptions in the dashboard, through Django's test client against localstripe: the list, a subscription's
page (its next invoice previewed without writing anything), made from a customer's page and charged, changed
with a preview, paused, resumed, canceled; the "recurring payment" shortcut; viewers read only."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from billing.catalogue.models import Customer, Price, Product
from billing.invoices.models import Invoice, InvoiceItem
from billing.subscriptions import services
from billing.subscriptions.models import Subscription
from kassa.errors import InvalidRequest
from merchants.models import Membership
from tests import factories
from webhooks.models import Event

LIST = "/admin/billing/subscription/"
RECURRING = f"{LIST}recurring/"


def _page(subscription) -> str:
    return f"{LIST}{subscription.pk}/change/"


def _button(subscription, route: str) -> str:
    return f"{LIST}{subscription.pk}/{route}/"


def _errors(response) -> list[str]:
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


@pytest.fixture
def shop(paying_shop):
    return paying_shop


@pytest.fixture
def ada(shop, card_token):
    customer = factories.customer(shop.merchant, email="ada@example.com", name="Ada Lovelace")
    card = factories.saved_card(customer, card_token)
    from billing.catalogue import services as catalogue

    return catalogue.customer_update(customer=customer, default_payment_method=card)


@pytest.fixture
def gold(shop):
    product = factories.product(shop.merchant, name="Gold plan")
    return factories.price(shop.merchant, product=product, unit_amount=5000, recurring={"interval": "month"})


@pytest.fixture
def platinum(shop):
    product = factories.product(shop.merchant, name="Platinum plan")
    return factories.price(shop.merchant, product=product, unit_amount=9000, recurring={"interval": "month"})


@pytest.fixture
def subscription(shop, ada, gold):
    return factories.subscription(shop.merchant, customer=ada, price=gold)


@pytest.fixture
def owner(client, shop):
    client.force_login(shop.owner)
    return client


def _viewer(client, shop):
    member = factories.staff(shop.merchant, role=Membership.Role.VIEWER, email="viewer@example.com")
    client.force_login(member)
    return client


# --- the list ---------------------------------------------------------------------------------------------


def test_the_list_shows_status_price_and_renewal_and_filters_searches_and_exports(owner, shop, subscription):
    other = factories.customer(shop.merchant, email="bob@example.com")
    emailed = factories.subscription(shop.merchant, customer=other, collection_method="send_invoice")
    services.subscription_cancel(subscription=emailed, now=timezone.now())

    page = owner.get(LIST)
    assert page.status_code == 200
    text = _text(page)
    assert "ada@example.com" in text
    assert "50.00 EUR every month" in text
    assert 'data-status="active"' in page.text
    assert 'data-status="canceled"' in page.text
    assert "Recurring payment" in text  # the shortcut's button
    renewal = subscription.next_renewal_at
    assert renewal.strftime("%Y") in text

    active = owner.get(LIST, {"status": "active"})
    assert subscription.public_id in active.text
    assert emailed.public_id not in active.text
    assert emailed.public_id in owner.get(LIST, {"status": "canceled"}).text
    assert subscription.public_id not in owner.get(LIST, {"q": "bob@example.com"}).text
    assert subscription.public_id in owner.get(LIST, {"q": subscription.public_id}).text

    export = owner.get(f"{LIST}export/", {"status": "active"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["id"], r["status"], r["amount"], r["interval"]) for r in rows] == [
        (subscription.public_id, "active", "50.00", "1 month")
    ]


def test_the_menu_has_subscriptions_and_the_shortcut_in_billing_for_writers_only(owner, client, shop):
    home = owner.get("/admin/")
    billing = re.search(r'class="app-kassa-billing module.*?</table>', home.text, re.S).group(0)
    assert "/admin/billing/subscription/" in billing
    assert RECURRING in billing
    viewer_home = _viewer(client, shop).get("/admin/")
    billing = re.search(r'class="app-kassa-billing module.*?</table>', viewer_home.text, re.S).group(0)
    assert "/admin/billing/subscription/" in billing
    assert RECURRING not in billing


# --- a subscription's page ------------------------------------------------------------------------------


def test_the_page_shows_items_period_next_invoice_invoices_and_timeline_and_writes_nothing(owner, subscription):
    invoices, items, events = Invoice.objects.count(), InvoiceItem.objects.count(), Event.objects.count()
    page = owner.get(_page(subscription))
    assert page.status_code == 200
    text = _text(page)
    first = subscription.latest_invoice
    assert "Active" in text
    assert "ada@example.com" in text
    assert "Gold plan" in text
    assert "50.00 EUR every month" in text
    # The next invoice: the next period's line and total, previewed.
    preview = re.search(r'id="kassa-subscription-preview".*?</table>', page.text, re.S).group(0)
    assert "Gold plan" in preview
    assert "50.00 EUR" in preview
    # Its invoices, linked, and the timeline from the records.
    assert f"/admin/billing/invoice/{first.pk}/change/" in page.text
    timeline = _text(page).split("Timeline", 1)[1]
    for words in ("Started", "Subscription created", "Invoice paid", "Next renewal"):
        assert words in timeline, words
    for button in ("change_items", "pause_collection", "pause", "cancel"):
        assert f'id="kassa-subscription-{button}"' in page.text, button
    assert (Invoice.objects.count(), InvoiceItem.objects.count(), Event.objects.count()) == (invoices, items, events)


def test_a_viewer_reads_the_page_without_buttons_and_every_button_refuses_them(client, shop, subscription):
    viewer = _viewer(client, shop)
    page = viewer.get(_page(subscription))
    assert page.status_code == 200
    assert "Gold plan" in page.text
    assert "kassa-subscription-cancel" not in page.text
    assert viewer.get(f"{LIST}add/").status_code == 403
    assert viewer.get(RECURRING).status_code == 403
    for route in ("change-items", "pause-collection", "resume-collection", "pause", "resume", "cancel", "keep"):
        assert viewer.post(_button(subscription, route), {"when": "now"}).status_code == 403, route
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE


# --- made from a customer's page -------------------------------------------------------------------------------


def test_a_subscription_made_from_the_customers_page_is_charged_to_their_card(owner, shop, ada, gold):
    customer_page = owner.get(f"/admin/billing/customer/{ada.pk}/change/")
    link = re.search(r'href="([^"]+)" class="button" id="kassa-customer-new-subscription"', customer_page.text)
    assert link
    assert link.group(1) == f"{LIST}add/?customer={ada.pk}"
    form = owner.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200
    assert f'<option value="{ada.pk}" selected' in form.text

    response = owner.post(
        f"{LIST}add/",
        {"customer": ada.pk, "price_1": gold.pk, "quantity_1": "2", "collection_method": "charge_automatically"},
        follow=True,
    )
    subscription = Subscription.objects.get(customer=ada)
    assert response.redirect_chain[-1][0] == _page(subscription)
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.latest_invoice.status == Invoice.Status.PAID
    assert subscription.latest_invoice.total == 10000
    assert "Active" in _text(response)
    assert "2 × 50.00 EUR every month" in _text(response)  # noqa: RUF001
    # The customer's page lists it.
    assert subscription.public_id in owner.get(f"/admin/billing/customer/{ada.pk}/change/").text


def test_a_refused_subscription_writes_nothing_and_says_why_on_the_field(owner, shop, ada, gold):
    dollars = factories.price(shop.merchant, currency="usd", unit_amount=900, recurring={"interval": "month"})
    response = owner.post(
        f"{LIST}add/",
        {
            "customer": ada.pk,
            "price_1": gold.pk,
            "quantity_1": "1",
            "price_2": dollars.pk,
            "quantity_2": "1",
            "collection_method": "charge_automatically",
        },
    )
    assert response.status_code == 200
    assert any("same currency" in error for error in _errors(response))
    assert not Subscription.objects.exists()
    assert not Invoice.objects.exists()


def test_a_trial_and_a_later_first_billing_date(owner, ada, gold):
    owner.post(
        f"{LIST}add/",
        {
            "customer": ada.pk,
            "price_1": gold.pk,
            "quantity_1": "1",
            "collection_method": "charge_automatically",
            "trial_period_days": "14",
        },
    )
    trial = Subscription.objects.get()
    assert trial.status == Subscription.Status.TRIALING
    assert (trial.trial_end - trial.trial_start).days == 14
    assert "Trial" in _text(owner.get(_page(trial)))


# --- buttons ----------------------------------------------------------------------------------------------------


def test_change_price_is_previewed_with_its_prorations_then_applied(owner, subscription, platinum):
    item = subscription.items.get()
    url = _button(subscription, "change-items")
    form = owner.get(url)
    assert form.status_code == 200
    assert "Platinum plan" in form.text
    body = {
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "1",
        "items-0-item": item.public_id,
        "items-0-price": str(platinum.pk),
        "items-0-quantity": "1",
        "items-1-price": "",
        "items-1-quantity": "",
        "proration_behavior": "create_prorations",
    }
    pending = InvoiceItem.objects.count()
    preview = owner.post(url, {**body, "_preview": "Preview"})
    table = re.search(r'id="kassa-subscription-change-preview".*?</table>', preview.text, re.S).group(0)
    assert "Unused time on" in table
    assert "Remaining time on" in table
    assert "Platinum plan" in table
    assert InvoiceItem.objects.count() == pending  # a preview writes nothing
    assert subscription.items.get().price_id != platinum.pk
    proration_date = re.search(r'name="proration_date" value="(\d+)"', preview.text).group(1)

    applied = owner.post(url, {**body, "proration_date": proration_date, "_apply": "Apply"}, follow=True)
    assert applied.redirect_chain[-1][0] == _page(subscription)
    assert subscription.items.get().price_id == platinum.pk
    prorations = InvoiceItem.objects.filter(invoice__isnull=True, proration=True)
    assert prorations.count() == 2
    # The change counted from the previewed instant: the pending lines are the previewed amounts.
    for line in prorations:
        amount = f"{abs(line.amount) // 100}.{abs(line.amount) % 100:02d}"
        assert amount in table


def test_pause_and_resume_collection(owner, subscription):
    page = owner.post(_button(subscription, "pause-collection"), {"behavior": "void", "resumes_on": ""}, follow=True)
    subscription.refresh_from_db()
    assert subscription.pause_behavior == "void"
    assert "collection paused" in _text(page)
    assert 'id="kassa-subscription-resume_collection"' in page.text
    owner.post(_button(subscription, "resume-collection"))
    subscription.refresh_from_db()
    assert subscription.pause_behavior is None


def test_a_resume_date_in_the_past_is_refused_on_its_field(owner, subscription):
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    response = owner.post(_button(subscription, "pause-collection"), {"behavior": "void", "resumes_on": yesterday})
    assert response.status_code == 200
    assert any("future" in e for e in _errors(response))


def test_pause_and_resume_the_subscription(owner, subscription):
    owner.post(_button(subscription, "pause"))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAUSED
    assert owner.get(_button(subscription, "resume")).status_code == 405  # buttons are POST only
    resumed = owner.post(_button(subscription, "resume"), follow=True)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.latest_invoice.status == Invoice.Status.PAID  # the new period billed and charged
    assert "Paused" in _text(resumed).split("Timeline", 1)[1]


def test_cancel_at_period_end_with_a_reason_then_keep_then_cancel_now(owner, subscription):
    owner.post(
        _button(subscription, "cancel"), {"when": "period_end", "feedback": "too_expensive", "comment": "Pricey"}
    )
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end
    assert subscription.cancellation_feedback == "too_expensive"
    page = owner.get(_page(subscription))
    assert "Cancels at the end of the current period" in _text(page)
    assert "Pricey" in _text(page)
    assert "cancels" in _text(owner.get(LIST))

    owner.post(_button(subscription, "keep"))
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end

    done = owner.post(_button(subscription, "cancel"), {"when": "now", "feedback": ""}, follow=True)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert "kassa-subscription-cancel" not in done.text  # an ended subscription has no buttons
    assert "No upcoming invoice" in done.text


# --- the "recurring payment" shortcut -------------------------------------------------------------------------


def _recurring(client, **fields):
    body = {
        "name": "John Doe",
        "email": "john@example.com",
        "amount_currency": "eur",
        "amount": "50.00",
        "interval_days": "30",
        "start": "",
        "product_name": "Membership",
        **fields,
    }
    return client.post(RECURRING, body, follow=True)


def test_every_30_days_from_1_february_50_eur_for_john_doe(owner, shop):
    february = timezone.localdate().replace(month=2, day=1)
    if february <= timezone.localdate():
        february = february.replace(year=february.year + 1)
    response = _recurring(owner, start=february.isoformat())
    subscription = Subscription.objects.get()
    assert response.redirect_chain[-1][0] == _page(subscription)
    john = subscription.customer
    assert (john.name, john.email) == ("John Doe", "john@example.com")
    price = subscription.items.get().price
    assert (price.unit_amount, price.currency, price.recurring_interval, price.recurring_interval_count) == (
        5000,
        "eur",
        "day",
        30,
    )
    assert price.product.name == "Membership"
    # No card: each invoice emailed; nothing billed before 1 February, then every 30 days from it.
    assert subscription.collection_method == "send_invoice"
    start = datetime(february.year, 2, 1, tzinfo=UTC)
    assert subscription.billing_cycle_anchor == start
    assert subscription.next_renewal_at == start
    assert subscription.latest_invoice.total == 0
    text = _text(response)
    assert "50.00 EUR every 30 days" in text
    assert "50.00 EUR every 30 days from" in text
    assert "john@example.com" in text
    # The next invoice: 50.00 EUR for the 30 days from 1 February.
    preview = re.search(r'id="kassa-subscription-preview".*?</table>', response.text, re.S).group(0)
    assert "50.00 EUR" in preview
    assert "Membership" in preview


def test_starting_today_emails_the_first_invoice_now(owner, mailoutbox):
    _recurring(owner, start=timezone.localdate().isoformat(), amount="19.99")
    subscription = Subscription.objects.get()
    invoice = subscription.latest_invoice
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.total == 1999
    assert invoice.collection_method == "send_invoice"


def test_from_a_customer_with_a_card_it_is_charged_to_the_card(owner, ada):
    page = owner.get(f"{RECURRING}?customer={ada.pk}")
    assert "Each payment is charged to their card" in _text(page)
    assert 'name="email"' not in page.text
    response = owner.post(
        RECURRING,
        {
            "customer": ada.pk,
            "amount_currency": "eur",
            "amount": "12.50",
            "interval_days": "7",
            "start": timezone.localdate().isoformat(),
            "product_name": "Weekly box",
        },
        follow=True,
    )
    subscription = Subscription.objects.get()
    assert subscription.customer == ada
    assert subscription.collection_method == "charge_automatically"
    assert subscription.latest_invoice.status == Invoice.Status.PAID
    assert subscription.latest_invoice.total == 1250
    assert response.status_code == 200
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"amount": "50.001"}, "amount", "at most 2 decimals"),
        ({"amount": "0"}, "amount", "more than zero"),
        ({"interval_days": "400"}, "interval_days", "less than or equal to 365"),
        ({"email": ""}, "email", "email is needed"),
        ({"start": "2020-01-01"}, "start", "in the past"),
    ],
)
def test_a_refused_recurring_payment_writes_nothing(owner, fields, field, words):
    response = _recurring(owner, **fields)
    assert response.status_code == 200
    assert not response.redirect_chain
    assert any(words in error for error in _errors(response)), _errors(response)
    assert not Customer.objects.exists()
    assert not Product.objects.exists()
    assert not Price.objects.exists()
    assert not Subscription.objects.exists()


def test_the_pages_in_french(owner, subscription):
    page = owner.get(RECURRING, HTTP_ACCEPT_LANGUAGE="fr")
    assert "Paiement récurrent" in page.text
    assert "Tous les (jours)" in page.text
    detail = _text(owner.get(_page(subscription), HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Actif" in detail
    assert "50.00 EUR chaque mois" in detail
    assert "Prochaine facture" in detail
    assert "Mettre en pause" in detail


def test_the_shortcuts_service_writes_all_or_nothing(shop):
    """A refusal after the customer was made (a start two days ago) leaves no customer, product or price."""
    with pytest.raises(InvalidRequest) as refused:
        services.subscription_recurring_create(
            merchant=shop.merchant,
            livemode=False,
            now=timezone.now(),
            amount=5000,
            currency="eur",
            interval_days=30,
            start=timezone.now() - timedelta(days=2),
            product_name="Membership",
            name="John Doe",
            email="john@example.com",
        )
    assert refused.value.param == "start"
    assert not Customer.objects.exists()
    assert not Product.objects.exists()
    assert not Price.objects.exists()
    assert not Event.objects.filter(type="customer.created").exists()


def test_a_declined_card_leaves_the_recurring_payment_incomplete_and_says_so(owner, shop, card_token):
    from billing.catalogue import services as catalogue

    bob = factories.customer(shop.merchant, email="bob@example.com")
    card = factories.saved_card(bob, card_token, "4000000000000341")  # saves, then declines every charge
    bob = catalogue.customer_update(customer=bob, default_payment_method=card)
    response = owner.post(
        RECURRING,
        {
            "customer": bob.pk,
            "amount_currency": "eur",
            "amount": "50",
            "interval_days": "30",
            "start": timezone.localdate().isoformat(),
            "product_name": "Membership",
        },
        follow=True,
    )
    subscription = Subscription.objects.get()
    assert response.redirect_chain[-1][0] == _page(subscription)
    assert subscription.status == Subscription.Status.INCOMPLETE
    assert subscription.latest_invoice.status == Invoice.Status.OPEN
    assert "Incomplete" in _text(response)
    assert "Payment failed" in _text(response).split("Timeline", 1)[1]
