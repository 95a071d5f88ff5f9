"""Link and session payers are one customer per email per merchant and mode (billing.checkout.services' rule).

And the customer's dashboard page shows their history: payments, cards, refunds, total spent, metadata.
"""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.catalogue import services as catalogue
from billing.checkout import services as checkout
from billing.models import Customer, PaymentIntent, PaymentMethod
from billing.payments import services as payments
from kassa.errors import CardError
from merchants.models import Membership
from tests import factories


def _pay(link, card_token, email, number="4242424242424242") -> PaymentIntent:
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    return checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(number), email=email)


@pytest.fixture
def link(paying_shop):
    return factories.payment_link(paying_shop.merchant)


def test_the_same_email_paying_twice_through_links_is_one_customer(paying_shop, link, card_token):
    first = _pay(link, card_token, "ada@example.com")
    second = _pay(factories.payment_link(paying_shop.merchant), card_token, "  ADA@Example.com ".strip())
    assert first.customer_id == second.customer_id
    assert Customer.objects.filter(merchant=paying_shop.merchant).count() == 1
    customer = first.customer
    assert customer.email == "ada@example.com"  # the first one's, never overwritten by a payer's typing
    # Each card paid for its payment only (no setup_future_usage): none is among the customer's saved cards.
    assert not customer.payment_methods.exists()
    assert PaymentMethod.objects.filter(single_use_for__customer=customer).count() == 2


def test_matching_is_per_merchant_and_mode_and_skips_deleted_customers(paying_shop, link, card_token):
    m = paying_shop.merchant
    other = factories.merchant("Other")
    theirs = factories.customer(other.merchant, email="ada@example.com")
    live = factories.customer(m, email="ada@example.com", livemode=True)
    deleted = factories.customer(m, email="ada@example.com")
    catalogue.customer_delete(customer=deleted)
    paid = _pay(link, card_token, "ada@example.com")
    assert paid.customer_id not in (theirs.pk, live.pk, deleted.pk)
    assert (paid.customer.merchant_id, paid.customer.livemode) == (m.pk, False)


def test_a_customer_made_through_the_api_or_dashboard_is_matched(paying_shop, link, card_token):
    older = factories.customer(paying_shop.merchant, email="Ada@Example.com", name="Ada Lovelace")
    factories.customer(paying_shop.merchant, email="ada@example.com", name="A duplicate the API allowed")
    paid = _pay(link, card_token, "ada@example.com")
    assert paid.customer_id == older.pk  # the oldest of several
    older.refresh_from_db()
    assert older.name == "Ada Lovelace"


def test_a_session_made_for_a_customer_keeps_it(paying_shop, link, card_token):
    chosen = factories.customer(paying_shop.merchant, email="chosen@example.com")
    factories.customer(paying_shop.merchant, email="typed@example.com")
    price = link.line_items.get().price
    session = checkout.checkout_session_create(
        merchant=paying_shop.merchant,
        livemode=False,
        line_items=[{"price": price, "quantity": 1}],
        customer=chosen,
        now=timezone.now(),
    )
    paid = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="typed@example.com"
    )
    assert paid.customer_id == chosen.pk


def test_a_payer_declined_with_one_email_who_pays_with_another_is_that_other_customer(
    paying_shop, link, card_token, emails_on_commit, mailoutbox
):
    """The receipt, the customer and the saved card follow the email the payer paid with, not a typo before it."""
    someone = factories.customer(paying_shop.merchant, email="typo@example.com", name="Someone else")
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    with emails_on_commit(), pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000002"), email="typo@example.com"
        )
    with emails_on_commit():
        paid = checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token(), email="right@example.com"
        )
    assert paid.status == "succeeded"
    assert paid.receipt_email == "right@example.com"
    assert paid.customer.email == "right@example.com"
    # the card was taken for the payer's own customer
    assert not PaymentMethod.objects.filter(single_use_for__customer=someone).exists()
    assert not PaymentIntent.objects.filter(customer=someone).exists()
    session.refresh_from_db()
    assert session.customer_id == paid.customer_id
    receipts = [m for m in mailoutbox if "right@example.com" in m.to or "typo@example.com" in m.to]
    assert [m.to for m in receipts] == [["right@example.com"]]


def test_declined_when_charged_then_paid_with_another_email_charges_the_second_customer(
    paying_shop, link, card_token, emails_on_commit, mailoutbox
):
    """4000000000000341 is saved, then declined when charged: an attempt and a card exist for the first email."""
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    with pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000341"), email="first@example.com"
        )
    first = Customer.objects.get(email="first@example.com")
    assert PaymentMethod.objects.filter(single_use_for__customer=first).count() == 1
    with emails_on_commit():
        paid = checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token(), email="second@example.com"
        )
    assert paid.status == "succeeded"
    assert (paid.customer.email, paid.receipt_email) == ("second@example.com", "second@example.com")
    # charged on the card the second payer gave
    assert paid.payment_method.single_use_for.customer_id == paid.customer_id
    assert [m.to for m in mailoutbox if "receipt" in m.subject.lower()] == [["second@example.com"]]


def test_the_payer_does_not_change_while_an_attempts_outcome_is_unknown(paying_shop, link, card_token):
    """No answer from the processor: the next confirm replays that attempt (its card, its customer) under its key."""
    session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
    with pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000341"), email="first@example.com"
        )
    payment = PaymentIntent.objects.get()
    # The processor's answer was lost (what payment_intent_confirm records when the call raises).
    payment.attempts.update(status="errored", processor_payment_intent_id="")
    assert not payments.payment_intent_payer_may_change(payment)
    with pytest.raises(CardError):  # the replay is the first card again, declined again
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token(), email="second@example.com"
        )
    payment.refresh_from_db()
    assert (payment.customer.email, payment.receipt_email) == ("first@example.com", "first@example.com")


def test_two_payers_with_the_same_new_email_at_once_make_one_customer(paying_shop, transactional_db):
    """The lookup and the insert are serialised per email (advisory lock on PostgreSQL, IMMEDIATE on SQLite)."""
    m = paying_shop.merchant
    barrier, made, errors = threading.Barrier(2), [], []

    def payer():
        try:
            barrier.wait()
            with transaction.atomic():
                customer = checkout.customer_for_payer(merchant=m, livemode=False, email="new@example.com")
                time.sleep(0.3)  # hold the transaction open: the other payer must wait, not insert its own
            made.append(customer.pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=payer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(made)) == 1
    assert Customer.objects.filter(merchant=m, email="new@example.com").count() == 1


def test_the_customer_page_shows_their_history(client, paying_shop, link, card_token):
    saving = factories.payment_link(paying_shop.merchant, setup_future_usage="off_session")
    first = _pay(saving, card_token, "ada@example.com")
    second = _pay(factories.payment_link(paying_shop.merchant), card_token, "ada@example.com", "5555555555554444")
    refund = payments.refund_create(payment_intent=first, amount=500)
    customer = first.customer
    catalogue.customer_update(customer=customer, metadata={"order": "A-42", "tier": "gold"})
    client.force_login(paying_shop.owner)
    page = client.get(f"/admin/billing/customer/{customer.pk}/change/").text
    for payment in (first, second):
        assert payment.public_id in page
    assert "Partially refunded" in page
    assert refund.public_id in page or f"/admin/billing/refund/{refund.pk}/change/" in page
    assert "•••• 4242" in page  # saved by the link that asks for it
    assert "•••• 4444" not in page  # paid for its payment only
    # 12.50 EUR twice, less 5.00 EUR refunded
    total = page[page.index("Total spent") :]
    assert "20.00 EUR" in total[:600]

    # A viewer reads the metadata as rows.
    client.force_login(factories.staff(paying_shop.merchant, Membership.Role.VIEWER))
    page = client.get(f"/admin/billing/customer/{customer.pk}/change/").text
    rows = page[page.index('id="kassa-customer-metadata"') :]
    assert "<tr><th>order</th><td>A-42</td></tr>" in rows
    assert "<tr><th>tier</th><td>gold</td></tr>" in rows
