"""Taking money through the services, against a real localstripe."""

import threading

import pytest
from django.utils import timezone

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.models import CheckoutSession, PaymentAttempt, PaymentIntent, Refund
from billing.payments import services as payments
from kassa.errors import CardError, IdempotencyConflict, InvalidRequest
from tests.conftest import processor_payment_intents


@pytest.fixture
def link(paying_shop):
    m = paying_shop.merchant
    product = services.product_create(merchant=m, livemode=False, name="Tea")
    price = services.price_create(merchant=m, livemode=False, product=product, currency="eur", unit_amount=1250)
    return checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 2}])


def test_paying_a_link_succeeds_only_when_stripe_says_so(link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    assert (session.amount_total, session.currency, session.status) == (2500, "eur", "open")
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="payer@example.com"
    )
    assert intent.status == "succeeded"
    assert intent.amount_received == 2500
    session.refresh_from_db()
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.customer.email == "payer@example.com"
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["id"], remote["status"], remote["amount"]) == (intent.processor_id, "succeeded", 2500)
    assert [e.kind for e in intent.timeline.all()] == ["created", "succeeded"]


def test_a_declined_card_leaves_the_session_payable(link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    with pytest.raises(CardError) as exc:
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000002"), email="p@example.com"
        )
    assert exc.value.code == "card_declined"
    session.refresh_from_db()
    assert session.status == "open"
    # Declined when charged (attaches first): recorded on the PaymentIntent with the reason.
    with pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000341"), email="p@example.com"
        )
    intent = PaymentIntent.objects.get()
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error["code"] == "card_declined"
    assert "declined" in intent.timeline.last().message
    paid = checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")
    assert paid.status == "succeeded"


def test_three_d_secure_then_refresh(link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    assert intent.status == "requires_action"
    client_secret = payments.processor_client_secret(intent)
    assert client_secret.startswith(intent.processor_id)
    # A second confirm while waiting for authentication is refused, not charged.
    with pytest.raises(InvalidRequest):
        checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")
    # What Stripe.js's dialog does when the payer completes authentication:
    stripe_backend.authenticate(intent.processor_id, client_secret, success=True)
    session = checkout.checkout_session_sync(now=timezone.now(), session=session)
    assert session.status == "complete"
    assert [e.kind for e in PaymentIntent.objects.get().timeline.all()] == ["created", "requires_action", "succeeded"]


def test_failed_authentication_can_be_paid_again(link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    client_secret = payments.processor_client_secret(intent)
    stripe_backend.authenticate(intent.processor_id, client_secret, success=False)
    session = checkout.checkout_session_sync(now=timezone.now(), session=session)
    intent.refresh_from_db()
    assert (session.status, intent.status) == ("open", "requires_payment_method")
    assert intent.last_payment_error["code"] == "payment_intent_authentication_failure"
    assert (
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token(), email="p@example.com"
        ).status
        == "succeeded"
    )


def test_a_late_signal_never_moves_a_payment_back(link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="p@example.com"
    )
    from kassa.gateway import ProcessorPayment

    attempt = intent.attempts.get()
    stale = ProcessorPayment(id=intent.processor_id, status="requires_action")
    payments._record_processor_answer(intent, stale, attempt)
    intent.refresh_from_db()
    assert intent.status == "succeeded"


def test_concurrent_confirms_make_one_charge(link, card_token, stripe_backend, transactional_db):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    tokens = [card_token() for _ in range(4)]
    barrier, outcomes = threading.Barrier(4), []

    def pay(token):
        barrier.wait()
        try:
            outcomes.append(
                checkout.checkout_session_pay(
                    now=timezone.now(), session=session, token=token, email="p@example.com"
                ).status
            )
        except (IdempotencyConflict, InvalidRequest) as exc:
            outcomes.append(exc.code)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=pay, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("succeeded") >= 1
    assert set(outcomes) <= {
        "succeeded",
        "payment_in_progress",
        "payment_intent_unexpected_state",
        "checkout_session_not_open",
    }
    assert len([p for p in processor_payment_intents(stripe_backend) if p["status"] == "succeeded"]) == 1
    assert PaymentAttempt.objects.filter(status="succeeded").count() == 1


def test_refunds_never_exceed_what_was_captured(link, card_token, transactional_db):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="p@example.com"
    )
    partial = payments.refund_create(payment_intent=intent, amount=1000, reason="requested_by_customer")
    assert (partial.status, partial.amount) == ("succeeded", 1000)
    with pytest.raises(InvalidRequest) as exc:
        payments.refund_create(payment_intent=intent, amount=1501)
    assert exc.value.param == "amount"
    # Two concurrent refunds of 1000 each: 1500 remain, so exactly one succeeds.
    barrier, outcomes = threading.Barrier(2), []

    def refund():
        barrier.wait()
        try:
            outcomes.append(payments.refund_create(payment_intent=intent, amount=1000).status)
        except InvalidRequest as exc:
            outcomes.append(exc.param)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["amount", "succeeded"]
    assert sum(Refund.objects.filter(status="succeeded").values_list("amount", flat=True)) == 2000
    rest = payments.refund_create(payment_intent=intent)
    assert rest.amount == 500
    with pytest.raises(InvalidRequest):
        payments.refund_create(payment_intent=intent)


def test_expired_and_inactive(link, paying_shop):
    checkout.payment_link_update(payment_link=link, active=False)
    with pytest.raises(InvalidRequest):
        checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    checkout.payment_link_update(payment_link=link, active=True)
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    CheckoutSession.objects.filter(pk=session.pk).update(expires_at=session.created)
    assert checkout.checkout_sessions_expire_due(now=timezone.now()) == 1
    session.refresh_from_db()
    assert session.status == "expired"


def test_a_merchant_without_credentials_gets_a_clear_error(shop, card_token):
    m = shop.merchant
    price = services.price_create(
        merchant=m, livemode=False, product_data={"name": "X"}, currency="usd", unit_amount=500
    )
    link = checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price}])
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    with pytest.raises(InvalidRequest) as exc:
        checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")
    assert exc.value.code == "processor_not_configured"


def test_a_recorded_failure_applied_again_adds_nothing(link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=False)
    checkout.checkout_session_sync(now=timezone.now(), session=session)
    before = list(intent.timeline.values_list("kind", flat=True))
    assert before == ["created", "requires_action", "payment_failed"]
    payments.payment_intent_refresh(payment_intent=intent)
    checkout.checkout_session_sync(now=timezone.now(), session=session)
    assert list(intent.timeline.values_list("kind", flat=True)) == before


def test_a_payer_who_authenticated_and_left_is_settled_by_the_reconciler(link, card_token, stripe_backend):
    from datetime import timedelta

    from billing.payments.tasks import payments_reconcile

    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=True)
    # The tab is closed: no page asks again. A minute later beat's reconciler does.
    PaymentIntent.objects.filter(pk=intent.pk).update(updated=intent.updated - timedelta(minutes=2))
    assert payments_reconcile.apply().get() == 1
    session.refresh_from_db()
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert payments_reconcile.apply().get() == 0


def test_the_expiry_sweep_asks_stripe_before_giving_up_on_a_session(link, card_token, stripe_backend):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=True)
    CheckoutSession.objects.filter(pk=session.pk).update(expires_at=session.created)
    checkout.checkout_sessions_expire_due(now=timezone.now())
    session.refresh_from_db()
    assert session.status == "complete"


def test_a_sessions_payment_is_ended_by_expiring_the_session(link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    with pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=session, token=card_token("4000000000000341"), email="p@example.com"
        )
    intent = PaymentIntent.objects.get()
    with pytest.raises(InvalidRequest, match="expire the session"):
        payments.payment_intent_cancel(payment_intent=intent)
    checkout.checkout_session_expire(session=session)
    intent.refresh_from_db()
    session.refresh_from_db()
    assert (session.status, intent.status) == ("expired", "canceled")


def test_the_same_refund_request_twice_makes_one_refund(link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="p@example.com"
    )
    first = payments.refund_create(payment_intent=intent, amount=500, request_key="form-1")
    again = payments.refund_create(payment_intent=intent, amount=500, request_key="form-1")
    assert first.pk == again.pk
    assert Refund.objects.count() == 1


def test_a_disabled_merchant_takes_no_payment(link, card_token, paying_shop):
    from merchants import services as merchant_services

    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    merchant_services.merchant_update(merchant=paying_shop.merchant, status="disabled")
    with pytest.raises(InvalidRequest, match="cannot take payments"):
        checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")
    assert not PaymentIntent.objects.exists()


def test_a_refund_left_pending_is_settled_by_the_reconciler(link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="p@example.com"
    )
    refund = payments.refund_create(payment_intent=intent, amount=700)
    # The processor acknowledged it but Kassa did not hear how it ended (a timeout after the call).
    Refund.objects.filter(pk=refund.pk).update(status="pending")
    assert payments.refundable_amount(intent) == 1800
    payments.payments_reconcile(now=timezone.now())
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert payments.payments_reconcile(now=timezone.now()) == 0
