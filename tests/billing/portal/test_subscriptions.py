"""The portal's Subscriptions section with Django's test client, checked through stripe-python: the payer lists their
subscriptions, cancels one at the end of the period with a reason and keeps it again, switches plans (prorated
as the core prorates), and can never reach what the settings leave off or another customer's subscription."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.invoices import services as invoices
from billing.invoices.documents_build import format_day
from billing.models import Customer, Invoice, PortalSession, Price, Subscription
from billing.portal import services
from tests import factories
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def plans(api):
    """Gold (50.00 EUR a month), Silver (20.00 EUR a month) and Gold yearly (500.00 EUR a year)."""
    gold = api.v1.products.create(params={"name": "Gold plan"})
    silver = api.v1.products.create(params={"name": "Silver plan"})

    def price(product, amount, interval):
        return api.v1.prices.create(
            params={
                "product": product.id,
                "currency": "eur",
                "unit_amount": amount,
                "recurring": {"interval": interval},
            }
        )

    return {
        "gold": price(gold, 5000, "month"),
        "silver": price(silver, 2000, "month"),
        "gold_yearly": price(gold, 50000, "year"),
    }


@pytest.fixture
def payer(api, card_token):
    """Ada, paying with a saved default card."""
    customer = api.v1.customers.create(params={"email": "ada@example.com", "name": "Ada Lovelace"})
    card = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token()}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    return customer


@pytest.fixture
def gold(api, payer, plans):
    """Ada's Gold subscription, its first month paid."""
    subscription = api.v1.subscriptions.create(params={"customer": payer.id, "items": [{"price": plans["gold"].id}]})
    assert subscription.status == "active"
    return subscription


def configure(merchant, **settings):
    configuration = services.portal_configuration_for(merchant=merchant, livemode=False)
    prices = settings.pop("prices", None)
    if prices is not None:
        settings["subscription_update_prices"] = [Price.objects.get(public_id=p.id) for p in prices]
    return services.portal_configuration_update(configuration=configuration, **settings)


def open_portal(browser: Client, customer_id: str, **headers) -> tuple[PortalSession, str]:
    customer = Customer.objects.get(public_id=customer_id)
    session = services.portal_session_create(
        merchant=customer.merchant,
        livemode=False,
        customer=customer,
        now=timezone.now(),
        return_url="https://shop.example/account",
    )
    page = browser.get(f"/portal/{session.token}", **headers)
    assert page.status_code == 200, page.content[:500]
    return session, page.content.decode()


def block(page: str, subscription_id: str) -> str:
    """The one subscription's part of the page."""
    found = re.search(rf'<article[^>]*id="subscription-{subscription_id}".*?</article>', page, re.S)
    assert found, f"{subscription_id} is not on the page"
    return found.group(0)


def period_end(api, subscription_id: str) -> str:
    item = api.v1.subscriptions.retrieve(subscription_id)["items"].data[0]
    return format_day(datetime.fromtimestamp(item.current_period_end, tz=UTC), "en")


def test_the_payer_sees_their_subscriptions_in_plain_words(api, paying_shop, payer, plans, gold):
    ended = api.v1.subscriptions.create(params={"customer": payer.id, "items": [{"price": plans["silver"].id}]})
    api.v1.subscriptions.cancel(ended.id)
    grace = api.v1.customers.create(params={"email": "grace@example.com", "name": "Grace Hopper"})
    theirs = api.v1.subscriptions.create(
        params={
            "customer": grace.id,
            "items": [{"price": plans["silver"].id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    _session, page = open_portal(Client(), payer.id)
    mine = block(page, gold.id)
    assert "Gold plan" in mine
    assert "€50.00 every month" in mine
    assert "Active" in mine
    assert f"Renews on {period_end(api, gold.id)}" in mine
    # Ended subscriptions and other customers' are not shown; with the settings' defaults, no action is offered.
    assert ended.id not in page
    assert theirs.id not in page
    assert "Cancel subscription" not in page
    assert "Change plan" not in page
    assert page.index('id="section-subscriptions"') < page.index('id="section-payment_method"')
    # In French, as the payer reads it.
    _session, french = open_portal(Client(), payer.id, HTTP_ACCEPT_LANGUAGE="fr-FR")
    mine = block(french, gold.id)
    assert "Abonnements" in french
    assert "50,00\xa0€ chaque mois" in mine
    assert "Actif" in mine
    assert "Renouvellement le" in mine


def test_an_emailed_subscription_past_due_asks_for_its_invoice_to_be_paid_not_for_a_card(api, paying_shop, payer):
    product = api.v1.products.create(params={"name": "Silver plan"})
    price = api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 2000, "recurring": {"interval": "month"}}
    )
    emailed = api.v1.subscriptions.create(
        params={
            "customer": payer.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 1,
        }
    )
    invoices.invoices_mark_overdue(now=timezone.now() + timedelta(days=2))
    assert api.v1.subscriptions.retrieve(emailed.id).status == "past_due"
    _session, page = open_portal(Client(), payer.id)
    mine = block(page, emailed.id)
    assert "Payment overdue" in mine
    assert "Your last invoice is overdue." in mine
    assert "Update your card" not in mine
    # A link to the invoice's own page, where it is paid, whether or not the portal lists invoices.
    latest = api.v1.subscriptions.retrieve(emailed.id).latest_invoice
    token = Invoice.objects.get(public_id=latest).token
    assert f'href="/invoices/{token}"' in mine
    configure(paying_shop.merchant, invoice_history=False)
    _session, french = open_portal(Client(), payer.id, HTTP_ACCEPT_LANGUAGE="fr-FR")
    assert "Votre dernière facture est en retard." in block(french, emailed.id)
    assert f'href="/invoices/{token}">Régler la facture</a>' in block(french, emailed.id)


def test_no_section_without_a_subscription_that_has_not_ended(api, paying_shop, payer, gold):
    api.v1.subscriptions.cancel(gold.id)
    _session, page = open_portal(Client(), payer.id)
    assert 'id="section-subscriptions"' not in page


def test_cancel_at_period_end_with_a_reason_then_keep_it(api, paying_shop, payer, gold):
    configure(paying_shop.merchant, subscription_cancel=True, cancellation_reasons=["too_expensive", "unused"])
    browser = Client()
    session, page = open_portal(browser, payer.id)
    mine = block(page, gold.id)
    assert "Cancel subscription" in mine
    reasons = re.findall(r'<option value="([a-z_]+)">', mine)
    assert reasons == ["too_expensive", "unused"]  # only the merchant's, in Stripe's order
    assert "It&#x27;s too expensive" in mine
    assert "Keep my subscription" not in mine

    answer = browser.post(
        f"/portal/{session.token}/subscriptions/cancel",
        {"subscription": gold.id, "feedback": "too_expensive", "comment": "Too pricey for me"},
    )
    assert answer.status_code == 302
    assert answer["Location"].endswith("?done=subscriptions.cancel#section-subscriptions")
    after = browser.get(answer["Location"]).content.decode()
    assert "Your subscription will end at the end of the current period" in after
    mine = block(after, gold.id)
    assert f"Cancels on {period_end(api, gold.id)}" in mine
    assert "Renews on" not in mine
    assert "Keep my subscription" in mine
    assert "Cancel subscription" not in mine
    # What the merchant sees through the API and the events: Stripe's fields.
    canceled = api.v1.subscriptions.retrieve(gold.id)
    assert (canceled.status, canceled.cancel_at_period_end) == ("active", True)
    assert (canceled.cancellation_details.feedback, canceled.cancellation_details.comment) == (
        "too_expensive",
        "Too pricey for me",
    )
    updated = Event.objects.filter(type="customer.subscription.updated").latest("pk")
    assert updated.data["object"]["cancel_at_period_end"] is True
    assert updated.data["previous_attributes"]["cancel_at_period_end"] is False

    # Keep my subscription: it renews again, the reason withdrawn with it.
    answer = browser.post(f"/portal/{session.token}/subscriptions/keep", {"subscription": gold.id})
    assert answer.status_code == 302
    after = browser.get(answer["Location"]).content.decode()
    assert "Your subscription will continue." in after
    assert f"Renews on {period_end(api, gold.id)}" in block(after, gold.id)
    kept = api.v1.subscriptions.retrieve(gold.id)
    assert kept.cancel_at_period_end is False
    assert (kept.cancellation_details.feedback, kept.cancellation_details.comment) == (None, None)
    # Kept twice (another tab): nothing to undo, nothing written.
    events = Event.objects.count()
    assert browser.post(f"/portal/{session.token}/subscriptions/keep", {"subscription": gold.id}).status_code == 302
    assert Event.objects.count() == events


def test_a_reason_the_merchant_does_not_offer_is_refused_and_none_is_fine(api, paying_shop, payer, gold):
    configure(paying_shop.merchant, subscription_cancel=True, cancellation_reasons=["unused"])
    browser = Client()
    session, _page = open_portal(browser, payer.id)
    refused = browser.post(
        f"/portal/{session.token}/subscriptions/cancel", {"subscription": gold.id, "feedback": "low_quality"}
    )
    assert refused.status_code == 400
    assert "Choose one of the reasons offered." in refused.content.decode()
    too_long = browser.post(
        f"/portal/{session.token}/subscriptions/cancel", {"subscription": gold.id, "comment": "x" * 501}
    )
    assert too_long.status_code == 400
    assert "Your comment is too long" in too_long.content.decode()
    assert api.v1.subscriptions.retrieve(gold.id).cancel_at_period_end is False
    # Without a reason or a comment (both optional).
    assert browser.post(f"/portal/{session.token}/subscriptions/cancel", {"subscription": gold.id}).status_code == 302
    canceled = api.v1.subscriptions.retrieve(gold.id)
    assert canceled.cancel_at_period_end is True
    assert canceled.cancellation_details.feedback is None


def test_switch_plan_is_prorated_on_the_next_invoice(api, paying_shop, payer, plans, gold):
    configure(
        paying_shop.merchant, subscription_update=True, prices=[plans["gold"], plans["silver"], plans["gold_yearly"]]
    )
    browser = Client()
    session, page = open_portal(browser, payer.id)
    mine = block(page, gold.id)
    assert "Change plan" in mine
    options = dict(re.findall(r'<input type="radio" name="price" value="(price_\w+)"([^>]*)>', mine))
    assert set(options) == {plans["gold"].id, plans["silver"].id, plans["gold_yearly"].id}
    assert "disabled" in options[plans["gold"].id]  # the current plan
    assert "disabled" in options[plans["gold_yearly"].id]  # another schedule
    assert "disabled" not in options[plans["silver"].id]
    assert "€20.00 every month" in mine
    assert "€500.00 every year" in mine

    answer = browser.post(
        f"/portal/{session.token}/subscriptions/switch", {"subscription": gold.id, "price": plans["silver"].id}
    )
    assert answer.status_code == 302
    after = browser.get(answer["Location"]).content.decode()
    assert "Your plan has been changed." in after
    assert "Silver plan" in block(after, gold.id)
    switched = api.v1.subscriptions.retrieve(gold.id)
    assert switched["items"].data[0].price.id == plans["silver"].id
    assert switched["items"].data[0].id == gold["items"].data[0].id  # the same item, its price changed
    # create_prorations, as Stripe's portal: the unused Gold time credited, Silver's remaining time charged,
    # both pending for the next invoice (nothing charged now).
    pending = api.v1.invoice_items.list(params={"customer": payer.id, "pending": True}).data
    assert len(pending) == 2
    credit = next(i for i in pending if i.amount < 0)
    charge = next(i for i in pending if i.amount > 0)
    assert credit.description.startswith("Unused time on Gold plan")
    assert charge.description.startswith("Remaining time on Silver plan")
    assert -credit.amount > charge.amount  # a downgrade: 50.00 credited against 20.00, for the same time
    assert all(i.parent.subscription_details.subscription == gold.id for i in pending)
    assert len(api.v1.invoices.list(params={"customer": payer.id}).data) == 1  # only the first month's
    preview = api.v1.invoices.create_preview(params={"subscription": gold.id})
    assert {line.amount for line in preview.lines if line.parent[line.parent.type].proration} == {
        credit.amount,
        charge.amount,
    }


def test_change_quantity_is_prorated_on_the_next_invoice_and_refused_outside_its_bounds(
    api, paying_shop, payer, plans, gold
):
    configure(paying_shop.merchant, subscription_update_quantity=True, prices=[plans["gold"]])
    browser = Client()
    session, page = open_portal(browser, payer.id)
    mine = block(page, gold.id)
    assert "Change quantity" in mine
    assert "Change plan" not in mine  # switching prices is a setting of its own
    field = re.search(r'<input id="quantity-[^"]+"[^>]*>', mine).group(0)
    assert 'value="1"' in field
    assert 'min="1"' in field
    assert 'max="999"' in field

    url = f"/portal/{session.token}/subscriptions/quantity"
    for bad in ("0", "1000", "-3", "2.5", "three", ""):
        refused = browser.post(url, {"subscription": gold.id, "quantity": bad})
        assert refused.status_code == 400, bad
        assert "Enter a whole number from 1 to 999." in refused.content.decode()
    assert api.v1.invoice_items.list(params={"customer": payer.id, "pending": True}).data == []

    answer = browser.post(url, {"subscription": gold.id, "quantity": " 3 "})
    assert answer.status_code == 302
    after = browser.get(answer["Location"]).content.decode()
    assert "Your quantity has been changed." in after
    assert "3 × €50.00 every month" in block(after, gold.id)  # noqa: RUF001 (the multiplication sign)
    changed = api.v1.subscriptions.retrieve(gold.id)
    assert changed["items"].data[0].quantity == 3
    assert changed["items"].data[0].id == gold["items"].data[0].id
    # As a switch: the one unit's unused time credited, the three units' remaining time charged, pending.
    pending = api.v1.invoice_items.list(params={"customer": payer.id, "pending": True}).data
    assert sorted(i.quantity for i in pending) == [1, 3]
    assert all(i.proration for i in pending)
    assert sum(i.amount for i in pending) > 0
    assert len(api.v1.invoices.list(params={"customer": payer.id}).data) == 1  # nothing charged now
    types = [e.type for e in Event.objects.filter(type__startswith="customer.subscription.").order_by("pk")]
    assert types[-1] == "customer.subscription.updated"

    # The same quantity again changes nothing; in French, the refusal is the payer's language.
    browser.post(url, {"subscription": gold.id, "quantity": "3"})
    assert len(api.v1.invoice_items.list(params={"customer": payer.id, "pending": True}).data) == 2
    refused = browser.post(url, {"subscription": gold.id, "quantity": "0"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert "Saisissez un nombre entier de 1 à 999." in refused.content.decode()


def test_the_core_refuses_another_schedule_and_the_page_says_so(api, paying_shop, payer, plans, gold):
    configure(paying_shop.merchant, subscription_update=True, prices=[plans["silver"], plans["gold_yearly"]])
    browser = Client()
    session, _page = open_portal(browser, payer.id)
    refused = browser.post(
        f"/portal/{session.token}/subscriptions/switch", {"subscription": gold.id, "price": plans["gold_yearly"].id}
    )
    assert refused.status_code == 400
    assert "billed on another schedule" in refused.content.decode()
    assert api.v1.subscriptions.retrieve(gold.id)["items"].data[0].price.id == plans["gold"].id
    # A price the merchant does not offer (Gold, the current one, is not in the list here) is refused too.
    other = api.v1.prices.create(
        params={
            "product": plans["gold"].product,
            "currency": "eur",
            "unit_amount": 100,
            "recurring": {"interval": "month"},
        }
    )
    for price in (other.id, "price_madeup", ""):
        refused = browser.post(
            f"/portal/{session.token}/subscriptions/switch", {"subscription": gold.id, "price": price}
        )
        assert refused.status_code == 400
        assert "This plan is not offered here" in refused.content.decode()
    assert api.v1.invoice_items.list(params={"customer": payer.id, "pending": True}).data == []


def test_only_subscriptions_to_the_offered_products_change_plan_or_quantity(api, paying_shop, payer, plans, gold):
    # As at Stripe, whose portal updates only subscriptions to the products the merchant lists: a plan made for one
    # customer, or no longer sold, is the merchant's to change. Gold is offered here (its yearly price), Silver not.
    configure(
        paying_shop.merchant,
        subscription_update=True,
        subscription_update_quantity=True,
        prices=[plans["gold_yearly"]],
    )
    silver = api.v1.subscriptions.create(params={"customer": payer.id, "items": [{"price": plans["silver"].id}]})
    browser = Client()
    session, page = open_portal(browser, payer.id)
    assert "Change quantity" in block(page, gold.id)
    assert "Change plan" in block(page, gold.id)
    assert "Change quantity" not in block(page, silver.id)
    assert "Change plan" not in block(page, silver.id)
    for action, data in (
        ("quantity", {"subscription": silver.id, "quantity": "2"}),
        ("switch", {"subscription": silver.id, "price": plans["gold_yearly"].id}),
    ):
        refused = browser.post(f"/portal/{session.token}/subscriptions/{action}", data)
        assert refused.status_code == 400, action
        assert "This is not available here. Contact Shop." in refused.content.decode()
    after = api.v1.subscriptions.retrieve(silver.id)["items"].data[0]
    assert (after.price.id, after.quantity) == (plans["silver"].id, 1)
    assert api.v1.invoice_items.list(params={"customer": payer.id, "pending": True}).data == []
    # Gold's quantity still changes.
    answer = browser.post(f"/portal/{session.token}/subscriptions/quantity", {"subscription": gold.id, "quantity": "2"})
    assert answer.status_code == 302
    assert api.v1.subscriptions.retrieve(gold.id)["items"].data[0].quantity == 2


def test_every_action_is_refused_when_the_settings_leave_it_off(api, paying_shop, payer, plans, gold):
    configure(paying_shop.merchant, prices=[plans["silver"]])  # prices listed, but switching off
    browser = Client()
    session, page = open_portal(browser, payer.id)
    assert "Change plan" not in page
    assert "Cancel subscription" not in page
    for action, data in (
        ("cancel", {"subscription": gold.id, "feedback": ""}),
        ("keep", {"subscription": gold.id}),
        ("switch", {"subscription": gold.id, "price": plans["silver"].id}),
        ("quantity", {"subscription": gold.id, "quantity": "2"}),
    ):
        refused = browser.post(f"/portal/{session.token}/subscriptions/{action}", data)
        assert refused.status_code == 400, action
        assert "This is not available here. Contact Shop." in refused.content.decode()
    after = api.v1.subscriptions.retrieve(gold.id)
    assert (after.cancel_at_period_end, after["items"].data[0].price.id) == (False, plans["gold"].id)
    assert after["items"].data[0].quantity == 1
    assert "Change quantity" not in page


def test_another_customers_subscription_id_is_refused(api, paying_shop, payer, plans, gold, other_shop):
    configure(
        paying_shop.merchant,
        subscription_cancel=True,
        subscription_update=True,
        subscription_update_quantity=True,
        prices=[plans["silver"]],
    )
    grace = api.v1.customers.create(params={"email": "grace@example.com"})
    theirs = api.v1.subscriptions.create(
        params={
            "customer": grace.id,
            "items": [{"price": plans["gold"].id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    elsewhere = factories.subscription(
        other_shop.merchant,
        customer=factories.customer(other_shop.merchant, email="ada@example.com"),
        collection_method="send_invoice",
        days_until_due=30,
    )
    browser = Client()
    session, _page = open_portal(browser, payer.id)
    for subscription_id in (theirs.id, elsewhere.public_id, "sub_madeup", ""):
        for action, data in (
            ("cancel", {"feedback": ""}),
            ("keep", {}),
            ("switch", {"price": plans["silver"].id}),
            ("quantity", {"quantity": "5"}),
        ):
            refused = browser.post(
                f"/portal/{session.token}/subscriptions/{action}", {"subscription": subscription_id} | data
            )
            assert refused.status_code == 400, (subscription_id, action)
            assert "This subscription cannot be changed here." in refused.content.decode()
    for subscription in Subscription.objects.exclude(public_id=gold.id):
        assert subscription.cancel_at_period_end is False
        assert subscription.items.get().price.public_id != plans["silver"].id
        assert subscription.items.get().quantity == 1
    # Ada's own, once ended, is refused the same way.
    api.v1.subscriptions.cancel(gold.id)
    refused = browser.post(f"/portal/{session.token}/subscriptions/cancel", {"subscription": gold.id})
    assert refused.status_code == 400


def test_every_subscription_form_is_csrf_protected(api, paying_shop, payer, plans, gold):
    configure(
        paying_shop.merchant,
        subscription_cancel=True,
        subscription_update=True,
        subscription_update_quantity=True,
        prices=[plans["silver"], plans["gold"]],
    )
    browser = Client(enforce_csrf_checks=True)
    session, page = open_portal(browser, payer.id)
    assert page.count('name="csrfmiddlewaretoken"') >= 3
    for action in ("cancel", "switch", "quantity"):
        refused = browser.post(
            f"/portal/{session.token}/subscriptions/{action}",
            {"subscription": gold.id, "price": plans["silver"].id, "quantity": "2"},
        )
        assert refused.status_code == 403
    assert api.v1.subscriptions.retrieve(gold.id).cancel_at_period_end is False
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    answer = browser.post(
        f"/portal/{session.token}/subscriptions/cancel", {"subscription": gold.id, "csrfmiddlewaretoken": csrf}
    )
    assert answer.status_code == 302
