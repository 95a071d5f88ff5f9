"""``payment_settings[save_default_payment_method]``: the card the payer gives on the hosted invoice page is saved
and becomes the subscription's default (stripe-python, unmodified, and the page's own pay call); the dashboard's
"recurring payment" without a card then charges it automatically from the next renewal on (a test clock)."""

from datetime import UTC, datetime

import pytest
import stripe

from billing.catalogue.models import Customer
from billing.invoices.models import Invoice
from billing.subscriptions import services as subscriptions
from merchants.models import EmailSent
from tests.billing.invoices.hosted import pay_call
from tests.conftest import processor_payment_intents
from webhooks.models import Event


def _invoice(invoice_id: str) -> Invoice:
    return Invoice.objects.get(public_id=invoice_id)


def test_the_card_that_pays_on_the_hosted_page_becomes_the_default(
    api, customer, monthly, card_token, client, stripe_backend
):
    sub = api.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": monthly.id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
        }
    )
    assert sub.status == "incomplete"
    assert sub.payment_settings.save_default_payment_method == "on_subscription"
    assert sub.default_payment_method is None
    invoice = _invoice(sub.latest_invoice)
    # The payer (French, as the customer prefers) is told before paying that the card is kept.
    page = client.get(f"/invoices/{invoice.token}").content.decode()
    assert "Votre carte sera enregistrée chez Shop" in page
    english = client.get(f"/invoices/{invoice.token}?lang=en").content.decode()
    assert "Your card will be saved with Shop to pay this subscription&#x27;s next invoices" in english

    answer = pay_call(client, invoice, card_token("4242424242424242"))
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "succeeded"

    sub = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["default_payment_method"]})
    assert sub.status == "active"
    card = sub.default_payment_method
    assert (card.customer, card.card.last4) == (customer.id, "4242")
    # Saved on the customer (reusable: listed, attached at the processor), as Stripe's saved cards.
    assert [c.id for c in api.v1.payment_methods.list(params={"customer": customer.id}).data] == [card.id]
    assert Event.objects.filter(type="payment_method.attached").count() == 1
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["status"], remote["amount"]) == ("succeeded", 5000)

    # Switched off again through the API; the object says so.
    sub = api.v1.subscriptions.update(sub.id, params={"payment_settings": {"save_default_payment_method": "off"}})
    assert sub.payment_settings.save_default_payment_method == "off"


def test_off_by_default_the_page_s_card_is_used_once(api, customer, monthly, card_token, client, stripe_backend):
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": monthly.id}], "payment_behavior": "default_incomplete"}
    )
    assert sub.payment_settings.save_default_payment_method == "off"
    invoice = _invoice(sub.latest_invoice)
    assert "Votre carte sera enregistrée" not in client.get(f"/invoices/{invoice.token}").content.decode()
    assert pay_call(client, invoice, card_token()).json()["status"] == "succeeded"
    sub = api.v1.subscriptions.retrieve(sub.id)
    assert (sub.status, sub.default_payment_method) == ("active", None)
    assert api.v1.payment_methods.list(params={"customer": customer.id}).data == []


def test_bad_payment_settings_are_refused_by_name(api, customer, monthly, stripe_backend):
    for settings, param in (
        ({"save_default_payment_method": "always"}, "payment_settings[save_default_payment_method]"),
        ({"payment_method_types": ["sepa_debit"]}, "payment_settings[payment_method_types]"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.subscriptions.create(
                params={"customer": customer.id, "items": [{"price": monthly.id}], "payment_settings": settings}
            )
        assert refused.value.param == param
    assert api.v1.subscriptions.list(params={"status": "all"}).data == []


def test_a_recurring_payment_without_a_card_is_charged_automatically_after_the_first_payment(
    api, paying_shop, card_token, client, emails_on_commit, stripe_backend
):
    start = int(datetime(2027, 2, 1, 9, tzinfo=UTC).timestamp())
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": start})
    made = api.v1.customers.create(params={"email": "john@example.com", "name": "John Doe", "test_clock": clock.id})
    with emails_on_commit():
        sub = subscriptions.subscription_recurring_create(
            merchant=paying_shop.merchant,
            livemode=False,
            now=datetime.now(tz=UTC),
            amount=5000,
            currency="eur",
            interval_days=30,
            product_name="Gold plan",
            customer=Customer.objects.get(public_id=made.id),
            charge_automatically_once_paid=True,
        )
    assert (sub.collection_method, sub.save_default_payment_method) == ("send_invoice", "on_subscription")
    first = sub.latest_invoice
    assert EmailSent.objects.filter(key__startswith=f"invoice:{first.public_id}:sent").count() == 1

    with emails_on_commit():
        assert pay_call(client, first, card_token()).json()["status"] == "succeeded"
    sub.refresh_from_db()
    assert (sub.status, sub.collection_method, sub.days_until_due) == ("active", "charge_automatically", None)
    assert sub.default_payment_method.card_last4 == "4242"
    updated = Event.objects.filter(type="customer.subscription.updated").order_by("pk").last()
    assert updated.data["object"]["collection_method"] == "charge_automatically"

    # The next period's invoice is charged off-session to that card: paid, and no email asks the payer to pay.
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 31 * 86400})
    sub.refresh_from_db()
    renewal = sub.latest_invoice
    assert renewal.pk != first.pk
    assert (renewal.billing_reason, renewal.collection_method, renewal.status) == (
        "subscription_cycle",
        "charge_automatically",
        "paid",
    )
    assert renewal.payments.get().payment_intent.payment_method_id == sub.default_payment_method_id
    kinds = set(EmailSent.objects.filter(key__contains=renewal.public_id).values_list("kind", flat=True))
    assert kinds == {"invoice_receipt"}
    assert [p["status"] for p in processor_payment_intents(stripe_backend)] == ["succeeded", "succeeded"]


def test_the_card_that_pays_a_pending_update_s_invoice_becomes_the_default(
    api, customer, monthly, save_card, card_token, client, stripe_backend
):
    first = save_card()
    sub = api.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": monthly.id}],
            "payment_settings": {"save_default_payment_method": "on_subscription"},
        }
    )
    assert (sub.status, sub.default_payment_method) == ("active", first.id)
    declining = save_card("4000000000000341", default=False)
    api.v1.subscriptions.update(sub.id, params={"default_payment_method": declining.id})
    # Two seats, held until paid: the declining card is refused, the payer pays on the invoice page with another.
    sub = api.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": sub["items"].data[0].id, "quantity": 2}],
            "payment_behavior": "pending_if_incomplete",
        },
    )
    assert sub.pending_update is not None
    invoice = _invoice(sub.latest_invoice)
    assert (invoice.billing_reason, invoice.status) == ("subscription_update", "open")

    assert pay_call(client, invoice, card_token("4242424242424242")).json()["status"] == "succeeded"

    sub = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["default_payment_method"]})
    assert (sub.pending_update, sub["items"].data[0].quantity, sub.status) == (None, 2, "active")
    card = sub.default_payment_method
    assert card.id not in (first.id, declining.id)
    assert (card.customer, card.card.last4) == (customer.id, "4242")
    updated = Event.objects.filter(type="customer.subscription.updated").order_by("pk").last()
    assert updated.data["object"]["default_payment_method"] == card.id
