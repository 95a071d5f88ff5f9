"""The outbox: every change writes its ``Event`` (and its deliveries) in the change's own transaction.

Each test does the real thing through the services (payments against a real
localstripe) and reads the ``Event`` rows a merchant's endpoints would be sent.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.models import CheckoutSession, Customer, PaymentIntent, Product
from billing.payments import services as payments
from kassa.errors import CardError, InvalidRequest
from webhooks.event_types import EVENT_TYPES
from webhooks.models import Delivery, Event, EventPending, WebhookEndpoint
from webhooks.services import endpoints, outbox

PUBLIC = "https://93.184.215.14/hooks"


def _events(merchant, *, livemode: bool = False) -> list[Event]:
    return list(Event.objects.filter(merchant=merchant, livemode=livemode).order_by("id"))


def _types(merchant, *, livemode: bool = False) -> list[str]:
    return [event.type for event in _events(merchant, livemode=livemode)]


def _last(merchant, type: str) -> Event:
    return Event.objects.filter(merchant=merchant, type=type).order_by("-id").first()


def _about(event: Event, obj, *, livemode: bool = False) -> None:
    """The event is about ``obj``, of its merchant and mode."""
    assert event.data["object"]["id"] == obj.public_id
    assert (event.merchant_id, event.livemode) == (obj.merchant_id, livemode)
    assert event.data["object"]["livemode"] is livemode


@pytest.fixture
def merchant(shop):
    return shop.merchant


@pytest.fixture
def pay(paying_shop, card_token):
    """A customer pays 20.00 EUR with a saved card, as the API's create-and-confirm does."""
    m = paying_shop.merchant

    def make(number: str = "4242424242424242", amount: int = 2000) -> PaymentIntent:
        customer = services.customer_create(merchant=m, livemode=False, email="payer@example.com")
        card = payments.payment_method_create_from_token(customer=customer, token=card_token(number))
        intent = payments.payment_intent_create(
            now=timezone.now(),
            merchant=m,
            livemode=False,
            amount=amount,
            currency="eur",
            customer=customer,
            payment_method=card,
        )
        return payments.payment_intent_confirm(payment_intent=intent)

    return make


@pytest.fixture
def link(paying_shop):
    m = paying_shop.merchant
    price = services.price_create(
        merchant=m, livemode=False, product_data={"name": "Tea"}, currency="eur", unit_amount=1250
    )
    return checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 2}])


# --- the catalogue and customers -------------------------------------------------------


def test_products_and_prices(merchant):
    product = services.product_create(merchant=merchant, livemode=False, name="Tea")
    event = _last(merchant, "product.created")
    _about(event, product)
    assert (event.data["object"]["object"], event.data["object"]["name"]) == ("product", "Tea")
    assert "previous_attributes" not in event.data

    services.product_update(product=product, name="Green tea", description="Loose leaf")
    event = _last(merchant, "product.updated")
    _about(event, product)
    assert (event.data["object"]["name"], event.data["object"]["description"]) == ("Green tea", "Loose leaf")
    assert event.data["previous_attributes"]["name"] == "Tea"
    assert event.data["previous_attributes"]["description"] is None
    assert "metadata" not in event.data["previous_attributes"]

    price = services.price_create(
        merchant=merchant, livemode=False, product=product, currency="eur", unit_amount=450, lookup_key="standard"
    )
    event = _last(merchant, "price.created")
    _about(event, price)
    assert (event.data["object"]["unit_amount"], event.data["object"]["product"]) == (450, product.public_id)

    services.price_update(price=price, nickname="Standard")
    event = _last(merchant, "price.updated")
    _about(event, price)
    assert event.data["previous_attributes"] == {"nickname": None}

    # Moving a lookup key to a new price changes the old holder: it gets its own price.updated.
    newer = services.price_create(
        merchant=merchant,
        livemode=False,
        product=product,
        currency="eur",
        unit_amount=500,
        lookup_key="standard",
        transfer_lookup_key=True,
    )
    moved = _last(merchant, "price.updated")
    _about(moved, price)
    assert moved.data["object"]["lookup_key"] is None
    assert moved.data["previous_attributes"] == {"lookup_key": "standard"}
    _about(_last(merchant, "price.created"), newer)

    unused = services.product_create(merchant=merchant, livemode=False, name="Mug")
    services.product_delete(product=unused)
    event = _last(merchant, "product.deleted")
    _about(event, unused)
    assert event.data["object"]["name"] == "Mug"
    assert not Product.objects.filter(pk=unused.pk).exists()

    assert _types(merchant) == [
        "product.created",
        "product.updated",
        "price.created",
        "price.updated",
        "price.updated",
        "price.created",
        "product.created",
        "product.deleted",
    ]


def test_customers(merchant):
    customer = services.customer_create(merchant=merchant, livemode=False, email="ada@example.com", name="Ada")
    _about(_last(merchant, "customer.created"), customer)
    services.customer_update(customer=customer, name="Ada Lovelace")
    event = _last(merchant, "customer.updated")
    _about(event, customer)
    assert event.data["object"]["name"] == "Ada Lovelace"
    assert event.data["previous_attributes"] == {"name": "Ada"}
    services.customer_delete(customer=customer)
    event = _last(merchant, "customer.deleted")
    _about(event, customer)
    # The customer as it was (Stripe's customer.deleted carries the whole customer).
    assert (event.data["object"]["object"], event.data["object"]["email"]) == ("customer", "ada@example.com")
    assert _types(merchant) == ["customer.created", "customer.updated", "customer.deleted"]


def test_live_mode_changes_are_live_events(merchant):
    customer = services.customer_create(merchant=merchant, livemode=True, email="live@example.com")
    [event] = _events(merchant, livemode=True)
    assert event.type == "customer.created"
    _about(event, customer, livemode=True)
    assert _events(merchant) == []


def test_payment_links(link, paying_shop):
    m = paying_shop.merchant
    event = _last(m, "payment_link.created")
    _about(event, link)
    assert (event.data["object"]["object"], event.data["object"]["active"]) == ("payment_link", True)
    checkout.payment_link_update(payment_link=link, active=False)
    event = _last(m, "payment_link.updated")
    _about(event, link)
    assert event.data["object"]["active"] is False
    assert event.data["previous_attributes"] == {"active": True}


# --- payments ---------------------------------------------------------------------


def test_a_successful_payment(pay, paying_shop):
    intent = pay()
    assert intent.status == "succeeded"
    m = paying_shop.merchant
    assert _types(m) == [
        "customer.created",
        "payment_method.attached",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    created, succeeded = _events(m)[2:]
    _about(created, intent)
    assert created.data["object"]["status"] == "requires_confirmation"
    _about(succeeded, intent)
    assert (succeeded.data["object"]["status"], succeeded.data["object"]["amount_received"]) == ("succeeded", 2000)
    assert succeeded.data["object"]["latest_charge"] == intent.latest_charge


def test_a_declined_card_is_payment_failed(pay, paying_shop):
    with pytest.raises(CardError):
        pay("4000000000000341")  # attaches, then declines when charged
    m = paying_shop.merchant
    assert _types(m) == [
        "customer.created",
        "payment_method.attached",
        "payment_intent.created",
        "payment_intent.payment_failed",
    ]
    event = _last(m, "payment_intent.payment_failed")
    _about(event, PaymentIntent.objects.get())
    assert event.data["object"]["status"] == "requires_payment_method"
    assert event.data["object"]["last_payment_error"]["code"] == "card_declined"


def test_3d_secure_is_requires_action_then_succeeded(pay, paying_shop, stripe_backend):
    intent = pay("4000002500003155")
    assert intent.status == "requires_action"
    m = paying_shop.merchant
    event = _last(m, "payment_intent.requires_action")
    _about(event, intent)
    assert event.data["object"]["status"] == "requires_action"
    assert event.data["object"]["next_action"]["type"] == "use_stripe_sdk"
    assert _last(m, "payment_intent.succeeded") is None

    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=True)
    payments.payment_intent_refresh(payment_intent=intent)
    event = _last(m, "payment_intent.succeeded")
    _about(event, intent)
    assert event.data["object"]["status"] == "succeeded"
    assert event.data["object"]["next_action"] is None
    assert _types(m)[-2:] == ["payment_intent.requires_action", "payment_intent.succeeded"]


def test_failed_3d_secure_is_payment_failed(pay, paying_shop, stripe_backend):
    intent = pay("4000002500003155")
    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=False)
    payments.payment_intent_refresh(payment_intent=intent)
    event = _last(paying_shop.merchant, "payment_intent.payment_failed")
    _about(event, intent)
    assert event.data["object"]["status"] == "requires_payment_method"
    assert event.data["object"]["last_payment_error"]["code"] == "payment_intent_authentication_failure"


def test_cancel(paying_shop):
    m = paying_shop.merchant
    intent = payments.payment_intent_create(now=timezone.now(), merchant=m, livemode=False, amount=500, currency="eur")
    payments.payment_intent_cancel(payment_intent=intent, cancellation_reason="requested_by_customer")
    assert _types(m) == ["payment_intent.created", "payment_intent.canceled"]
    event = _last(m, "payment_intent.canceled")
    _about(event, intent)
    assert (event.data["object"]["status"], event.data["object"]["cancellation_reason"]) == (
        "canceled",
        "requested_by_customer",
    )
    assert event.data["object"]["canceled_at"]


def test_refunds_are_refund_and_charge_events(pay, paying_shop):
    intent = pay()
    m = paying_shop.merchant
    partial = payments.refund_create(payment_intent=intent, amount=500)
    assert _types(m)[-3:] == ["refund.created", "refund.updated", "charge.refunded"]
    created = _last(m, "refund.created")
    _about(created, partial)
    assert (created.data["object"]["status"], created.data["object"]["amount"]) == ("pending", 500)
    updated = _last(m, "refund.updated")
    _about(updated, partial)
    assert updated.data["object"]["status"] == "succeeded"
    assert updated.data["previous_attributes"] == {"status": "pending"}
    charge = _last(m, "charge.refunded")
    assert (charge.merchant_id, charge.livemode) == (m.pk, False)
    assert charge.data["object"]["object"] == "charge"
    assert charge.data["object"]["id"] == intent.latest_charge
    assert charge.data["object"]["payment_intent"] == intent.public_id
    assert (charge.data["object"]["amount"], charge.data["object"]["amount_refunded"]) == (2000, 500)
    assert charge.data["object"]["refunded"] is False

    rest = payments.refund_create(payment_intent=intent)
    _about(_last(m, "refund.created"), rest)
    charge = _last(m, "charge.refunded")
    assert (charge.data["object"]["amount_refunded"], charge.data["object"]["refunded"]) == (2000, True)
    assert _types(m).count("charge.refunded") == 2

    payments.refund_update(refund=partial, metadata={"note": "damaged"})
    event = _last(m, "refund.updated")
    _about(event, partial)
    assert event.data["object"]["metadata"] == {"note": "damaged"}
    assert event.data["previous_attributes"] == {"metadata": {}}


# --- checkout -----------------------------------------------------------------------


def test_a_paid_checkout_session_is_completed(link, paying_shop, card_token):
    m = paying_shop.merchant
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    before = len(_events(m))
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token(), email="payer@example.com"
    )
    assert intent.status == "succeeded"
    # No payment_method.attached: without setup_future_usage the card pays this payment only, as at Stripe.
    assert _types(m)[before:] == [
        "customer.created",
        "payment_intent.created",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    event = _last(m, "checkout.session.completed")
    _about(event, session)
    assert event.data["object"]["object"] == "checkout.session"
    assert (event.data["object"]["status"], event.data["object"]["payment_status"]) == ("complete", "paid")
    assert event.data["object"]["payment_intent"] == intent.public_id
    assert event.data["object"]["amount_total"] == 2500


def test_an_expired_checkout_session(link, paying_shop, card_token):
    m = paying_shop.merchant
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    checkout.checkout_session_expire(session=session)
    event = _last(m, "checkout.session.expired")
    _about(event, session)
    assert (event.data["object"]["status"], event.data["object"]["payment_status"]) == ("expired", "unpaid")

    # One whose payment was refused: expiring it cancels its PaymentIntent too.
    refused = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    with pytest.raises(CardError):
        checkout.checkout_session_pay(
            now=timezone.now(), session=refused, token=card_token("4000000000000341"), email="p@example.com"
        )
    checkout.checkout_session_expire(session=refused)
    assert _types(m)[-2:] == ["checkout.session.expired", "payment_intent.canceled"]
    _about(_last(m, "checkout.session.expired"), refused)
    canceled = _last(m, "payment_intent.canceled")
    assert canceled.data["object"]["cancellation_reason"] == "abandoned"

    # One that ran out of time, found by beat's sweep.
    late = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    CheckoutSession.objects.filter(pk=late.pk).update(expires_at=late.created)
    assert checkout.checkout_sessions_expire_due(now=timezone.now()) == 1
    _about(_last(m, "checkout.session.expired"), late)
    assert _types(m).count("checkout.session.expired") == 3


def test_every_event_type_kassa_sends_is_one_an_endpoint_can_listen_for():
    """What the services emit must be subscribable, or no endpoint could ask for it."""
    emitted = {
        "product.created",
        "product.updated",
        "product.deleted",
        "price.created",
        "price.updated",
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "payment_method.attached",
        "payment_method.detached",
        "payment_link.created",
        "payment_link.updated",
        "checkout.session.completed",
        "checkout.session.expired",
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "refund.created",
        "refund.updated",
        "charge.refunded",
    }
    assert emitted <= set(EVENT_TYPES)


# --- the outbox property ------------------------------------------------------------


def test_a_change_rolled_back_leaves_no_event_and_no_delivery(transactional_db, merchant):
    endpoints.webhook_endpoint_create(merchant=merchant, livemode=False, url=PUBLIC, enabled_events=["*"])

    def sign_up_then_fail():
        with transaction.atomic():
            services.customer_create(merchant=merchant, livemode=False, email="gone@example.com")
            raise RuntimeError("something failed after the change")

    with pytest.raises(RuntimeError, match="after the change"):
        sign_up_then_fail()
    assert not Customer.objects.exists()
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()

    # A service failing half-way: the product it had made is gone, and so is its product.created.
    with pytest.raises(InvalidRequest):
        services.price_create(
            merchant=merchant,
            livemode=False,
            product_data={"name": "Half"},
            currency="eur",
            unit_amount=500,
            recurring={"interval": "fortnight"},
        )
    assert not Product.objects.exists()
    assert not Event.objects.exists()

    customer = services.customer_create(merchant=merchant, livemode=False, email="kept@example.com")
    [event] = Event.objects.all()
    _about(event, customer)
    # The request wrote the event only; the dispatcher (a worker) plans its delivery, once.
    assert not Delivery.objects.exists()
    assert outbox.events_dispatch() == 1
    assert outbox.events_dispatch() == 0
    assert Delivery.objects.filter(event=event).count() == 1


def test_event_emit_outside_a_transaction_is_refused(transactional_db, merchant):
    customer = services.customer_create(merchant=merchant, livemode=False, email="a@example.com")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox.event_emit(type="customer.updated", obj=customer)
    with pytest.raises(RuntimeError, match="inside the transaction"), outbox.events_gathered():
        outbox.event_emit(type="customer.updated", obj=customer)
    assert [e.type for e in Event.objects.all()] == ["customer.created"]


def test_events_gathered_are_written_together_as_the_block_ends_but_those_of_a_rolled_back_savepoint(merchant):
    """``events_gathered``: one INSERT for the block's events, at its end, inside its transaction; an event of a
    savepoint rolled back inside it is not written, as it would not have been one by one."""
    from django.test.utils import CaptureQueriesContext

    def sign_up_then_fail():
        with transaction.atomic():
            services.customer_create(merchant=merchant, livemode=False, email="gone@example.com")
            raise RuntimeError("undone")

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with outbox.events_gathered():
            kept = services.customer_create(merchant=merchant, livemode=False, email="kept@example.com")
            with pytest.raises(RuntimeError, match="undone"):
                sign_up_then_fail()
            with outbox.events_gathered():  # an inner block adds to the outer one's events
                services.customer_update(customer=kept, name="Kept")
            assert not Event.objects.exists()  # not written yet
        assert Event.objects.count() == 2
    assert sum(1 for q in queries if 'INSERT INTO "webhooks_event"' in q["sql"]) == 1  # with their queue rows, on PG
    assert [(event.type, event.data["object"]["id"]) for event in _events(merchant)] == [
        ("customer.created", kept.public_id),
        ("customer.updated", kept.public_id),
    ]
    assert outbox.events_dispatch() == 2  # planned as any event is


def test_a_block_of_gathered_events_nudges_the_dispatcher_once_on_commit_and_none_for_events_undone(
    merchant, monkeypatch, django_capture_on_commit_callbacks
):
    """The events of one ``events_gathered`` block nudge the dispatcher once its transaction commits (one nudge for
    them all, not one an event); a block whose events were all undone with their savepoint nudges nothing; an event
    emitted outside a block nudges it too."""
    nudges = []
    monkeypatch.setattr(outbox, "events_kick", lambda: nudges.append("kick"))

    def sign_up_then_fail(email):
        with transaction.atomic():
            services.customer_create(merchant=merchant, livemode=False, email=email)
            raise RuntimeError("undone")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), outbox.events_gathered():
        kept = services.customer_create(merchant=merchant, livemode=False, email="kept@example.com")
        services.customer_update(customer=kept, name="Kept")
        with pytest.raises(RuntimeError, match="undone"):
            sign_up_then_fail("gone@example.com")
        assert nudges == []  # not before the commit
    assert nudges == ["kick"]
    undone = pytest.raises(RuntimeError, match="undone")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), outbox.events_gathered(), undone:
        sign_up_then_fail("gone-too@example.com")
    assert nudges == ["kick"]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.customer_update(customer=kept, name="Alone")
    assert nudges == ["kick", "kick"]
    assert [event.type for event in _events(merchant)] == ["customer.created", "customer.updated", "customer.updated"]


# --- deliveries -------------------------------------------------------------------


def _endpoint(merchant, events, *, livemode: bool = False, disabled: bool = False) -> WebhookEndpoint:
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=merchant, livemode=livemode, url=PUBLIC, enabled_events=events
    )
    if disabled:
        endpoint = endpoints.webhook_endpoint_update(endpoint=endpoint, disabled=True)
    return endpoint


def _sent_to(event: Event) -> set[str]:
    outbox.events_dispatch()  # what a worker does right after the commit
    return {d.endpoint.description for d in event.deliveries.select_related("endpoint")}


def test_each_event_goes_to_the_enabled_endpoints_listening_for_it(merchant, other_shop):
    named = {}
    for name, owner, events, livemode, disabled in (
        ("customers", merchant, ["customer.created"], False, False),
        ("products", merchant, ["product.created", "price.created"], False, False),
        ("all", merchant, ["*"], False, False),
        ("off", merchant, ["*"], False, True),
        ("live", merchant, ["*"], True, False),
        ("theirs", other_shop.merchant, ["*"], False, False),
        ("theirs-live", other_shop.merchant, ["*"], True, False),
    ):
        endpoint = _endpoint(owner, events, livemode=livemode, disabled=disabled)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(description=name)
        named[name] = endpoint

    customer = services.customer_create(merchant=merchant, livemode=False, email="c@example.com")
    assert _sent_to(_last(merchant, "customer.created")) == {"customers", "all"}
    services.customer_update(customer=customer, name="C")
    assert _sent_to(_last(merchant, "customer.updated")) == {"all"}
    services.price_create(merchant=merchant, livemode=False, product_data={"name": "T"}, currency="eur", unit_amount=1)
    assert _sent_to(_last(merchant, "product.created")) == {"products", "all"}
    assert _sent_to(_last(merchant, "price.created")) == {"products", "all"}

    # Live events go to live endpoints only; another merchant's only to that merchant's.
    services.customer_create(merchant=merchant, livemode=True, email="live@example.com")
    live_event = Event.objects.get(merchant=merchant, livemode=True)
    assert _sent_to(live_event) == {"live"}
    services.customer_create(merchant=other_shop.merchant, livemode=False, email="o@example.com")
    assert _sent_to(_last(other_shop.merchant, "customer.created")) == {"theirs"}

    # The disabled endpoint got nothing at all; every delivery waits for a worker.
    assert not named["off"].deliveries.exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.PENDING}
    assert Delivery.objects.filter(endpoint=named["all"]).count() == 4

    # Listening is decided when the deliveries are planned (at once, by a worker): a later change of
    # mind sends nothing old.
    endpoints.webhook_endpoint_update(endpoint=named["customers"], enabled_events=["*"])
    assert named["customers"].deliveries.count() == 1
    services.product_create(merchant=merchant, livemode=False, name="Later")
    assert _sent_to(_last(merchant, "product.created")) == {"customers", "products", "all"}


def test_an_endpoint_made_after_an_event_does_not_get_it_even_if_planning_was_late(merchant):
    """Planning waits for a worker; what an endpoint receives does not depend on how long it waited."""
    services.customer_create(merchant=merchant, livemode=False, email="early@example.com")
    Event.objects.update(created=timezone.now() - timedelta(minutes=1))  # it happened a minute ago
    late = _endpoint(merchant, ["*"])
    planned = outbox.events_dispatch()
    assert planned == 1
    assert not late.deliveries.exists()
    services.customer_create(merchant=merchant, livemode=False, email="later@example.com")
    assert _sent_to(_last(merchant, "customer.created")) == {late.description}


def test_an_event_written_by_code_from_before_the_dispatcher_is_not_planned_again(merchant):
    """During a rolling deploy the old code writes events without the new column; it planned them itself."""

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO webhooks_event (public_id, merchant_id, livemode, created, metadata, type, data, api_version)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            ["evt_old", merchant.pk, False, timezone.now(), "{}", "customer.created", '{"object": {}}', "2024-06-20"],
        )
    assert Event.objects.get(public_id="evt_old").deliveries_planned is True
    assert outbox.events_dispatch() == 0


def test_an_event_written_by_the_release_before_the_queue_is_planned_once(merchant):
    """During a rolling deploy the release before the dispatcher's queue writes events marked unplanned and no queue
    row: the dispatcher plans them from that mark, once."""

    endpoint = _endpoint(merchant, ["*"])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO webhooks_event (public_id, merchant_id, livemode, created, metadata, type, data, api_version,"
            " deliveries_planned) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                "evt_prev",
                merchant.pk,
                False,
                timezone.now(),
                "{}",
                "customer.created",
                '{"object": {}}',
                "2024-06-20",
                False,
            ],
        )
    event = Event.objects.get(public_id="evt_prev")
    assert not EventPending.objects.filter(event=event).exists()
    assert outbox.events_dispatch() == 1
    assert _sent_to(event) == {endpoint.description}
    assert Event.objects.get(pk=event.pk).deliveries_planned is True
    assert outbox.events_dispatch() == 0


def test_events_are_planned_a_batch_at_a_time_in_order_and_a_failed_batch_leaves_them_queued(merchant, monkeypatch):
    """The dispatcher takes its queue a batch at a time; a batch whose planning fails (the database refusing its
    deliveries, say) is given back whole: its events stay queued, and the next dispatcher plans each once."""
    endpoint = _endpoint(merchant, ["customer.created"])
    for n in range(7):
        services.customer_create(merchant=merchant, livemode=False, email=f"c{n}@example.com")
    made = list(Event.objects.filter(merchant=merchant, type="customer.created").order_by("id"))
    monkeypatch.setattr(outbox, "_DISPATCH_BATCH", 3)

    def refused(*args, **kwargs):
        raise RuntimeError("the database refused the deliveries")

    monkeypatch.setattr(Delivery.objects, "bulk_create", refused)
    with pytest.raises(RuntimeError):
        outbox.events_dispatch()
    monkeypatch.undo()
    assert EventPending.objects.count() == 7
    assert not Delivery.objects.exists()

    monkeypatch.setattr(outbox, "_DISPATCH_BATCH", 3)
    assert outbox.events_dispatch() == 7  # three batches: 3, 3 and 1
    assert list(Delivery.objects.order_by("id").values_list("event_id", flat=True)) == [e.pk for e in made]
    assert set(Delivery.objects.values_list("endpoint_id", flat=True)) == {endpoint.pk}
    assert not EventPending.objects.exists()
    assert outbox.events_dispatch() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no row locks")
def test_dispatchers_running_at_once_take_different_events_and_plan_each_once(transactional_db, merchant, monkeypatch):
    """Two workers' dispatchers at once: each takes queued events the other does not hold (``SKIP LOCKED``); held
    here while both wait for the endpoint's lock, they plan every event once between them."""
    endpoint = _endpoint(merchant, ["*"])
    monkeypatch.setattr(outbox, "events_kick", lambda: None)  # no worker dispatches them as they commit
    for n in range(6):
        services.customer_create(merchant=merchant, livemode=False, email=f"c{n}@example.com")
    assert EventPending.objects.count() == 6
    monkeypatch.setattr(outbox, "_DISPATCH_BATCH", 3)
    planned = []

    def dispatch():
        try:
            planned.append(outbox.events_dispatch())
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)  # both wait here with their batch taken
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, wait_event_type, state, query FROM pg_stat_activity WHERE datname = current_database()"
                )
                seen = cursor.fetchall()
            waiting = sum(1 for row in seen if row[1] == "Lock")
        assert waiting == 2, (seen, planned)  # both dispatchers wait for the endpoint, their batches taken
    for thread in threads:
        thread.join(20)
    assert sorted(planned) == [3, 3]
    delivered = Delivery.objects.filter(endpoint=endpoint).values_list("event_id", flat=True)
    assert sorted(delivered) == sorted(Event.objects.filter(merchant=merchant).values_list("id", flat=True))
    assert not EventPending.objects.exists()
