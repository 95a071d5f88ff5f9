"""Subscriptions through their services, against localstripe: the first invoice, renewals, one invoice per period."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from billing.catalogue import services as catalogue
from billing.invoices import services as invoices
from billing.invoices.models import Invoice
from billing.subscriptions import services
from billing.subscriptions.models import Subscription
from billing.subscriptions.services import renewal
from kassa import money
from tests import factories
from tests.conftest import processor_payment_intents
from webhooks.event_types import EVENT_TYPES
from webhooks.models import Event, EventPending
from webhooks.services.outbox import render


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def payer(paying_shop, card_token):
    customer = factories.customer(paying_shop.merchant, name="John Doe")
    card = factories.saved_card(customer, card_token)

    catalogue.customer_update(customer=customer, default_payment_method=card)
    customer.refresh_from_db()
    return customer


def _periods(subscription) -> list[tuple]:
    invoices = Invoice.objects.filter(subscription=subscription).order_by("pk")
    return [
        (i.billing_reason, i.status, i.total, i.items.get().period_start, i.items.get().period_end) for i in invoices
    ]


def test_create_charges_the_first_invoice_and_the_subscription_is_active(paying_shop, payer, stripe_backend):
    now = d(2027, 1, 31, 10)
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=now)
    assert sub.status == "active"
    assert sub.latest_invoice.status == "paid"
    assert sub.latest_invoice.billing_reason == "subscription_create"
    item = sub.items.get()
    assert (item.current_period_start, item.current_period_end) == (now, d(2027, 2, 28, 10))
    assert sub.next_renewal_at == d(2027, 2, 28, 10)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000]
    types = list(Event.objects.filter(type__startswith="customer.subscription.").values_list("type", flat=True))
    assert types[0] == "customer.subscription.created"
    assert "customer.subscription.updated" in types


def test_renewals_from_31_january_follow_the_month_end_rule_one_invoice_per_period(paying_shop, payer, stripe_backend):
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 31, 10))
    for _ in range(3):
        assert services.subscriptions_renew_due(now=d(2027, 5, 1)) <= 1
    # Run again (a duplicate beat tick): nothing more.
    assert services.subscriptions_renew_due(now=d(2027, 5, 1)) == 0
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 5, 1)) is False
    periods = _periods(sub)
    assert [(p[3].date(), p[4].date()) for p in periods] == [
        (d(2027, 1, 31).date(), d(2027, 2, 28).date()),
        (d(2027, 2, 28).date(), d(2027, 3, 31).date()),
        (d(2027, 3, 31).date(), d(2027, 4, 30).date()),
        (d(2027, 4, 30).date(), d(2027, 5, 31).date()),
    ]
    assert [p[:3] for p in periods] == [("subscription_create", "paid", 5000)] + [
        ("subscription_cycle", "paid", 5000)
    ] * 3
    assert len(processor_payment_intents(stripe_backend)) == 4
    sub.refresh_from_db()
    assert sub.status == "active"


def test_a_renewal_s_events_show_its_invoice_lines_and_the_new_period(paying_shop, payer, stripe_backend):
    """A merchant reading the webhooks sees what was billed from the first event on: ``invoice.created`` shows the
    draft with its line and total (as Stripe's does for a subscription's invoice), and the subscription's update
    shows the items in their new period."""
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 31, 10))
    first = Event.objects.order_by("pk").last().pk
    assert services.subscriptions_renew_due(now=d(2027, 2, 28, 10)) == 1
    events = {event.type: event.data for event in Event.objects.filter(pk__gt=first).order_by("pk")}
    created = events["invoice.created"]["object"]
    assert (created["status"], created["billing_reason"], created["total"]) == ("draft", "subscription_cycle", 5000)
    [line] = created["lines"]["data"]
    period = {"start": int(d(2027, 2, 28, 10).timestamp()), "end": int(d(2027, 3, 31, 10).timestamp())}
    assert (line["amount"], line["period"]) == (5000, period)
    assert line["parent"]["subscription_item_details"]["subscription"] == sub.public_id
    assert events["invoice.paid"]["object"]["lines"]["data"][0]["period"] == period
    [item] = events["customer.subscription.updated"]["object"]["items"]["data"]
    assert (item["current_period_start"], item["current_period_end"]) == (period["start"], period["end"])
    previous = events["customer.subscription.updated"]["previous_attributes"]["items"]["data"][0]
    assert previous["current_period_end"] == period["start"]


def test_a_renewals_invoice_is_stored_as_its_finalizing_showed_it(paying_shop, payer, stripe_backend):
    """Finalizing a renewal's draft writes what it changed on it (kassa.db.update_changed), not the whole row: the
    number, the customer's and the seller's details and the totals its ``invoice.finalized`` event showed are what
    the invoice holds, read back."""
    catalogue.customer_update(
        customer=payer, email="john@example.com", phone="+33 1 23 45 67 89", address={"city": "Lyon", "country": "FR"}
    )
    factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 31, 10))
    first = Event.objects.order_by("pk").last().pk
    assert services.subscriptions_renew_due(now=d(2027, 2, 28, 10)) == 1
    shown = Event.objects.get(pk__gt=first, type="invoice.finalized").data["object"]
    stored = render(Invoice.objects.get(public_id=shown["id"]))
    kept = (
        "number",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "account_name",
        "total",
        "subtotal",
        "total_taxes",
        "period_start",
        "period_end",
        "effective_at",
    )
    assert {key: stored[key] for key in kept} == {key: shown[key] for key in kept}
    assert stored["status_transitions"]["finalized_at"] == shown["status_transitions"]["finalized_at"] is not None
    assert (stored["customer_email"], stored["customer_address"]["city"]) == ("john@example.com", "Lyon")
    assert stored["number"]
    assert stored["account_name"] == paying_shop.merchant.name


def test_a_renewals_seven_events_are_written_in_two_statements_in_the_order_they_happened(
    paying_shop, payer, stripe_backend
):
    """A renewal's transaction and its payment's each write their events in one INSERT (outbox.events_gathered),
    the invoice's made inside a savepoint included; the merchant still reads them in the order they happened."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    first = Event.objects.order_by("pk").last().pk
    with CaptureQueriesContext(connection) as queries:
        assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 1
    assert sum(1 for q in queries if 'INSERT INTO "webhooks_event"' in q["sql"]) == 2
    events = list(Event.objects.filter(pk__gt=first).order_by("pk"))
    assert [event.type for event in events] == [
        "invoice.created",
        "customer.subscription.updated",
        "invoice.finalized",
        "payment_intent.created",
        "payment_intent.succeeded",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    invoice = Invoice.objects.get(subscription=sub, billing_reason="subscription_cycle")
    assert {event.data["object"]["id"] for event in events if event.type.startswith("invoice.")} == {invoice.public_id}
    assert all(event.merchant_id == sub.merchant_id for event in events)
    assert EventPending.objects.filter(event__in=events).count() == len(events)  # each waits for the dispatcher


def test_a_batch_of_renewals_nudges_the_webhook_dispatcher_once_and_every_event_reaches_the_endpoint(
    paying_shop, payer, stripe_backend, transactional_db, monkeypatch
):
    """Three renewals commit a dozen times and write 21 events: one dispatcher task, queued once they are all
    done, plans the deliveries of every one of them (a task per commit was a measurable share of a renewal day's
    CPU). A longer batch nudges once a second on the way, so no event waits for the end of a long batch. Real
    commits here (the nudge runs on commit)."""
    from kassa import celery
    from webhooks.models import Delivery
    from webhooks.services import outbox

    endpoint = factories.webhook_endpoint(paying_shop.merchant)
    price = factories.recurring_price(paying_shop.merchant)
    subs = [factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), price=price) for _ in "abc"]
    outbox.events_dispatch()  # the subscriptions' creation, planned
    first = Event.objects.order_by("pk").last().pk
    queued = []
    monkeypatch.setattr(celery, "enqueue", lambda name, *args, **kw: queued.append(name))
    monkeypatch.setattr(outbox, "_BATCH_NUDGE_EVERY", 3600)  # however slow this machine: the batch's end nudges
    # The process's 100 ms nudge window starts empty: one opened by the commits above would swallow this run's
    # nudge on a machine fast enough to renew within it.
    monkeypatch.setattr(outbox, "_kicks", outbox._Kicks())
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 3
    assert queued.count("webhooks.tasks.events_dispatch") == 1
    renewed = Event.objects.filter(pk__gt=first)
    assert renewed.count() == 21  # 7 a renewal
    assert EventPending.objects.filter(event__in=renewed).count() == 21  # none planned yet
    outbox.events_dispatch()  # the queued task's work
    assert Delivery.objects.filter(endpoint=endpoint, event__in=renewed).count() == 21
    assert not EventPending.objects.exists()
    paid = [
        e.data["object"]["parent"]["subscription_details"]["subscription"] for e in renewed.filter(type="invoice.paid")
    ]
    assert sorted(paid) == sorted(s.public_id for s in subs)
    # A batch longer than the nudges' period (here: any) nudges on the way too, not only at its end.
    queued.clear()
    monkeypatch.setattr(outbox, "_BATCH_NUDGE_EVERY", 0)
    monkeypatch.setattr(outbox, "_KICK_WINDOW", 0)  # each nudge a task, so that they can be counted
    monkeypatch.setattr(outbox, "_kicks", outbox._Kicks())  # and no window left open by the run above
    assert services.subscriptions_renew_due(now=d(2027, 3, 1, 1)) == 3
    assert queued.count("webhooks.tasks.events_dispatch") > 3


def test_a_run_of_renewals_tells_the_owner_of_its_payments_in_one_email_and_never_twice(
    paying_shop, payer, stripe_backend, transactional_db, emails_on_commit, mailoutbox, monkeypatch, settings
):
    """Three renewals paid in one run: the owner, who asked to hear of payments, gets one email listing the three,
    with their total, sent by one task for the run (a task a renewal was about a fifth of a renewal day's CPU, an
    email a renewal about a quarter). Run again (a retried task), it sends nothing more; a mail server failing for
    the run leaves every payment to the retry."""
    from billing.payments import emails
    from billing.payments import services as payments
    from billing.payments.models import PaymentIntent
    from merchants.models import Membership

    owner = Membership.objects.get(merchant=paying_shop.merchant, role="owner")
    assert owner.notify_payments  # a new merchant's owner starts with notices on
    price = factories.recurring_price(paying_shop.merchant)
    for _ in "abc":
        factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), price=price)
    runs = []
    many = emails.payment_emails_send_many
    monkeypatch.setattr(emails, "payment_emails_send_many", lambda outcomes: runs.append(outcomes) or many(outcomes))
    # However slow this machine (a busy one took over a second for the three): the run's end hands the emails on.
    monkeypatch.setattr(payments, "EMAILS_GATHERED_EVERY", 3600)
    mailoutbox.clear()
    with emails_on_commit():
        assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 3
    (run,) = runs
    renewals = PaymentIntent.objects.filter(invoice_payment__invoice__billing_reason="subscription_cycle")
    assert sorted(pk for pk, _ in run) == sorted(renewals.values_list("pk", flat=True))
    assert {outcome for _, outcome in run} == {"succeeded"}

    def notices() -> list[str]:
        return sorted(m.body for m in mailoutbox if m.to == [owner.user.email])

    told = notices()
    assert len(told) == 1
    for intent in renewals:
        assert told[0].count(intent.public_id) == 1
    (subject,) = [m.subject for m in mailoutbox if m.to == [owner.user.email]]
    total = money.format_localised(sum(intent.amount for intent in renewals), "eur", "en")
    assert subject == f"[Test] You received 3 payments totalling {total} ({paying_shop.merchant.name})"
    assert many(run) == (0, [], None)  # the task again: each payment is told of once
    assert notices() == told

    # The mail server down: the run's payments stand, and every one of them is left to the retry, which sends them.
    settings.EMAIL_BACKEND = "tests.billing.payments.test_emails.BrokenMailServer"
    with emails_on_commit():
        assert services.subscriptions_renew_due(now=d(2027, 3, 1, 1)) == 3
    assert notices() == told
    march = renewals.exclude(pk__in=[pk for pk, _ in run])
    assert [i.status for i in march] == ["succeeded"] * 3
    outcomes = [[pk, "succeeded"] for pk in march.values_list("pk", flat=True)]
    sent, failed, failure = many(outcomes)
    assert (sent, sorted(failed), type(failure).__name__) == (0, sorted(outcomes), "SMTPServerDisconnected")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert many(failed) == (1, [], None)
    assert len(notices()) == 2
    for intent in march:
        assert notices()[1].count(intent.public_id) + notices()[0].count(intent.public_id) == 1


def _lock_waiter_seen(table: str, timeout: float = 20) -> list:
    """PostgreSQL: polled from the transaction holding a row lock, until another backend is seen waiting for a row
    lock with a statement reading ``table`` (its text: the first kilobyte), or ``timeout`` seconds; the rows found
    (none: nobody waited)."""
    import time

    from django.db import connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
            cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                [f'SELECT "{table}".%'],
            )
            found = cursor.fetchall()
        if found:
            return found
        time.sleep(0.05)
    return []


def test_a_renewal_waits_for_a_default_card_change_in_progress_and_charges_the_new_card(
    paying_shop, payer, card_token, stripe_backend, transactional_db
):
    """A renewal begins its charge in its own transaction with the customer's default card, read under the
    customer's row lock. A change of that card in progress (its transaction holding the customer) when the renewal
    comes: the renewal waits for it and charges the new card, never the card as it was before the change
    committed. Real commits, two connections; on PostgreSQL the change commits only once the renewal is seen
    waiting for the customer's lock (on SQLite the renewal's transaction waits for the whole write to end)."""
    import threading
    import time

    from django.db import connection, transaction

    from billing.catalogue.models import Customer
    from billing.payments.models import PaymentIntent

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    assert sub.default_payment_method is None  # the customer's default pays it
    new_card = factories.saved_card(payer, card_token, "5555555555554444")
    holding, seen = threading.Event(), []

    def change_the_card():
        try:
            with transaction.atomic():
                customer = Customer.objects.select_for_update().get(pk=payer.pk)
                catalogue.customer_update(customer=customer, default_payment_method=new_card)
                holding.set()
                if connection.vendor == "postgresql":
                    seen.extend(_lock_waiter_seen("billing_customer"))
                else:
                    time.sleep(0.5)
        finally:
            holding.set()
            connection.close()

    changer = threading.Thread(target=change_the_card)
    changer.start()
    assert holding.wait(20)
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 1
    changer.join()
    if connection.vendor == "postgresql":
        assert seen, "the renewal never waited for the customer's lock"
    sub.refresh_from_db()
    assert sub.latest_invoice.status == "paid"
    charged = PaymentIntent.objects.get(invoice_payment__invoice=sub.latest_invoice)
    assert charged.payment_method_id == new_card.pk


@pytest.mark.parametrize("whose", ["customer", "subscription"])
def test_a_renewal_never_charges_a_card_detached_since_the_run_read_its_subscription(
    paying_shop, payer, stripe_backend, whose
):
    """A renewal run reads its batch first and renews it one subscription at a time: the card it charges (the
    customer's default, or the subscription's own) detached in between (by another process, committed) is not
    charged. The renewal's invoice is made (a subscription's own card detached is not its default: invoicing would
    refuse it, and the renewal would fail at every tick), no charge is begun in its transaction (nothing of one is
    left), and the attempt made after the commit fails as one without a usable card does: the subscription
    past_due, dunning under way, no PaymentIntent at the processor."""
    from billing.payments.models import PaymentAttempt, PaymentIntent, PaymentMethod
    from billing.subscriptions.selectors import subscriptions_renewal_read

    own = {"default_payment_method": payer.default_payment_method} if whose == "subscription" else {}
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), **own)
    charged = len(processor_payment_intents(stripe_backend))
    read = subscriptions_renewal_read([sub.pk])[sub.pk]
    PaymentMethod.objects.filter(pk=payer.default_payment_method_id).update(customer=None)
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1, 1), read=read)
    sub.refresh_from_db()
    renewal_invoice = sub.latest_invoice
    assert (renewal_invoice.billing_reason, renewal_invoice.status) == ("subscription_cycle", "open")
    assert renewal_invoice.dunning_started_at is not None
    assert sub.status == "past_due"
    assert len(processor_payment_intents(stripe_backend)) == charged
    assert not PaymentIntent.objects.filter(invoice_payment__invoice=renewal_invoice, status="succeeded").exists()
    assert not PaymentAttempt.objects.filter(status__in=["pending", "errored"]).exists()


def _locked_elsewhere_in_turn(first, then, act):
    """PostgreSQL, real commits on two connections: another connection locks ``first`` (a row), and ``then`` only once
    a backend is seen waiting for a row of ``first``'s table (``_lock_waiter_seen``), in one transaction; this one
    runs ``act()`` meanwhile. What ``act`` answered, the waiters seen (none: nobody waited) and the other
    connection's errors (a deadlock's, whatever its type)."""
    import threading

    from django.db import connection, transaction

    holding, seen, errors = threading.Event(), [], []

    def elsewhere():
        try:
            with transaction.atomic():
                type(first).objects.select_for_update().get(pk=first.pk)
                holding.set()
                seen.extend(_lock_waiter_seen(first._meta.db_table))
                type(then).objects.select_for_update().get(pk=then.pk)
        except Exception as exc:  # noqa: BLE001  (a deadlock's error, whatever its type: the caller asserts)
            errors.append(exc)
        finally:
            holding.set()
            connection.close()

    other = threading.Thread(target=elsewhere)
    other.start()
    assert holding.wait(20)
    done = act()
    other.join()
    return done, seen, errors


def test_a_detach_during_a_renewal_waits_for_it_and_neither_deadlocks(
    paying_shop, payer, card_token, stripe_backend, transactional_db
):
    """A renewal locks its subscription, then its customer (selectors.subscription_renewal_lock). A detach of the
    card the subscription names, coming in between, locks the subscriptions naming it before the customer
    (payments' on_card_detached hooks): it waits for the renewal, which takes the customer and commits, and then
    clears the card. (Locking the customer first, the two would each wait for the other, and PostgreSQL would
    abort one.) Real commits on two connections; the renewal's locks are taken by hand, in the renewal's order,
    and the customer's only once the detach is seen waiting."""
    from django.db import connection

    from billing.payments import services as payments

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no row locks")
    card = factories.saved_card(payer, card_token, "5555555555554444")
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), default_payment_method=card)
    # The renewal's locks: its subscription, then its customer.
    detached, seen, errors = _locked_elsewhere_in_turn(
        sub, payer, lambda: payments.payment_method_detach(payment_method=card)
    )
    assert seen, "the detach never waited for the subscription's lock"
    assert errors == []
    assert detached.customer_id is None
    sub.refresh_from_db()
    assert sub.default_payment_method is None


def test_a_cancel_meeting_an_invoice_a_payments_answer_holds_neither_deadlocks_nor_leaves_it_collected(
    paying_shop, payer, card_token, stripe_backend, transactional_db
):
    """A payment's answer locks its invoice, then the invoice's subscription. A cancel, holding the subscription's
    lock, stops its open invoices' collection: the invoice the answer holds is passed over, and stopped once the
    cancel has committed, when waiting for it is safe. (Waiting for it inside the cancel's transaction, the two
    would each wait for the other, and PostgreSQL would abort one.) Real commits on two connections; the answer's
    subscription lock is taken only once the cancel is seen waiting for the invoice."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no row locks")
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    declining = factories.saved_card(payer, card_token, number="4000000000000341")
    catalogue.customer_update(customer=payer, default_payment_method=declining)
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 1
    sub.refresh_from_db()
    held = sub.latest_invoice
    assert (sub.status, held.status, held.auto_advance) == ("past_due", "open", True)
    # The answer's locks: its invoice, then the invoice's subscription.
    canceled, seen, errors = _locked_elsewhere_in_turn(
        held, sub, lambda: services.subscription_cancel(subscription=sub, now=d(2027, 2, 1, 2))
    )
    assert seen, "the cancel never waited for the invoice's lock"
    assert errors == []
    assert canceled.status == "canceled"
    held.refresh_from_db()
    assert (held.status, held.auto_advance, held.next_payment_attempt) == ("open", False, None)


def test_a_renewals_declined_invoice_paid_on_its_page_with_a_one_off_card_leaves_that_card_off_the_processor(
    paying_shop, payer, card_token, stripe_backend, emails_on_commit
):
    """A renewal's charge of the saved card is declined; the payer pays that invoice on its page with a card given
    for it alone: the renewal's own PaymentIntent takes it and is paid, and once paid the one-off card is removed
    from the customer's record at the processor, the saved cards stay (a renewal's charge itself takes no card for
    its PaymentIntent alone, and looks for none to release)."""
    import json

    from billing.payments.models import PaymentMethod

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    declining = factories.saved_card(payer, card_token, number="4000000000000341")
    catalogue.customer_update(customer=payer, default_payment_method=declining)
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 1
    sub.refresh_from_db()
    renewal_invoice = sub.latest_invoice
    assert (sub.status, renewal_invoice.status) == ("past_due", "open")
    intent = renewal_invoice.payments.get().payment_intent
    with emails_on_commit():
        invoices.invoice_pay_with_card_token(invoice=renewal_invoice, now=d(2027, 2, 1, 2), token=card_token())
    renewal_invoice.refresh_from_db()
    sub.refresh_from_db()
    assert (renewal_invoice.status, sub.status) == ("paid", "active")
    assert renewal_invoice.payments.get().payment_intent == intent  # the renewal's own, paid by the one-off card
    one_off = PaymentMethod.objects.get(single_use_for=intent)
    assert one_off.customer is None
    held = json.loads(stripe_backend.request("GET", f"/v1/customers/{payer.processor_id}/sources"))["data"]
    saved = PaymentMethod.objects.filter(customer=payer)
    assert sorted(source["id"] for source in held) == sorted(card.processor_id for card in saved)
    assert one_off.processor_id not in {source["id"] for source in held}
    assert saved.count() == 2


def test_a_renewal_whose_invoice_would_be_over_the_maximum_writes_nothing(paying_shop, payer, stripe_backend, caplog):
    """Its period's invoice would be worth more than one payment can take (its line is not: a tax on it is what
    takes the total over): the renewal is refused and nothing of it is left (no draft, no line, no event, the period
    not moved, no charge), it says why, and it is tried again at the next run. (Invoicing refuses the total before
    the draft is inserted, and finalizing would refuse it again: the renewal's one transaction makes either leave
    nothing, so this checks what is left, not which of them refused.)"""
    from billing.invoices.models import InvoiceItem
    from billing.payments.models import PaymentIntent
    from billing.subscriptions.models import SubscriptionItem

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    # 15,000 times 50.00 EUR = 750,000.00 EUR, under the maximum of 999,999.99; with 50 % tax on top, over it. Set past
    # the API, which would refuse it.
    SubscriptionItem.objects.filter(subscription=sub).update(quantity=15_000)
    vat = invoices.tax_rate_create(
        merchant=paying_shop.merchant, livemode=False, display_name="VAT", percentage="50", inclusive=False
    )
    sub.default_tax_rates.add(vat)

    def counts():
        return [model.objects.count() for model in (Invoice, InvoiceItem, Event, PaymentIntent)]

    written = counts()
    before = (sub.next_renewal_at, sub.items.get().current_period_start, sub.latest_invoice_id)
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 0
    assert "total 112500000, more than the 99999999" in caplog.text
    sub.refresh_from_db()
    assert (sub.next_renewal_at, sub.items.get().current_period_start, sub.latest_invoice_id) == before
    assert counts() == written
    assert sub.next_renewal_at <= d(2027, 2, 1, 1)  # still due: the next run tries again


def test_a_renewal_without_stripe_credentials_records_a_failed_attempt_rather_than_leaving_one_pending(
    paying_shop, payer, stripe_backend
):
    """The merchant's Stripe credentials were removed: the charge a renewal would begin in its transaction is not
    begun (an attempt begun without them could never be sent, and would wait for ever), and the attempt made after
    the commit fails as any attempt without them does: recorded, ``invoice.payment_failed``, the subscription
    past_due and dunning under way."""
    from billing.payments.models import PaymentAttempt
    from merchants.models import ProcessorCredential

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    ProcessorCredential.objects.filter(merchant=paying_shop.merchant).delete()
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 1
    sub.refresh_from_db()
    renewal_invoice = sub.latest_invoice
    assert renewal_invoice.billing_reason == "subscription_cycle"
    assert (renewal_invoice.status, renewal_invoice.attempt_count) == ("open", 1)
    assert renewal_invoice.dunning_started_at is not None
    assert sub.status == "past_due"
    assert Event.objects.filter(type="invoice.payment_failed", data__object__id=renewal_invoice.public_id).exists()
    assert not PaymentAttempt.objects.filter(status__in=["pending", "errored"]).exists()


def test_a_run_of_renewals_reads_the_merchants_invoice_settings_and_credentials_once_and_the_next_run_sees_changes(
    paying_shop, payer, stripe_backend
):
    """Each renewal of a batch is invoiced with the merchant's invoice settings and charged with its Stripe
    credentials: the same rows for all of them, read once for the run (kassa.batch), not three times a renewal.
    A change made between two runs is what the next run uses."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.invoices import numbering
    from billing.models import InvoiceSettings

    price = factories.recurring_price(paying_shop.merchant)
    for _ in "abc":
        factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), price=price)
    numbering.invoice_prefix_set(merchant=paying_shop.merchant, prefix="RUN")
    InvoiceSettings.objects.filter(merchant=paying_shop.merchant).update(footer="Thank you")

    def reads(queries, table: str) -> int:
        return sum(1 for q in queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"])

    with CaptureQueriesContext(connection) as queries:
        assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 3
    assert reads(queries, "billing_invoicesettings") == 1
    assert reads(queries, "merchants_processorcredential") == 1
    january = Invoice.objects.filter(billing_reason="subscription_cycle").order_by("pk")
    assert [(i.status, i.number, i.footer) for i in january] == [
        ("paid", f"RUN-000{n}", "Thank you") for n in (1, 2, 3)
    ]

    InvoiceSettings.objects.filter(merchant=paying_shop.merchant).update(footer="Thanks again")
    assert services.subscriptions_renew_due(now=d(2027, 3, 1, 1)) == 3
    february = Invoice.objects.filter(billing_reason="subscription_cycle").order_by("pk")[3:]
    assert [(i.status, i.number, i.footer) for i in february] == [
        ("paid", f"RUN-000{n}", "Thanks again") for n in (4, 5, 6)
    ]


def test_a_renewals_paid_invoice_event_shows_the_lines_and_rates_it_was_issued_with_read_once(
    client, paying_shop, payer, stripe_backend
):
    """An issued invoice's lines and tax rates never change, so a renewal run shares them from the finalizing to
    the ``invoice.paid`` rendering (kassa.batch) instead of reading them again, and the lines themselves are the
    ones the renewal made, not read back: the event must still be exactly what the API answers for that invoice
    afterwards (read from the database), taxes included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.invoices import services as invoice_services

    vat = invoice_services.tax_rate_create(
        merchant=paying_shop.merchant, livemode=False, display_name="VAT", percentage="20", inclusive=False
    )
    levy = invoice_services.tax_rate_create(
        merchant=paying_shop.merchant, livemode=False, display_name="Levy", percentage="2.5", inclusive=True
    )
    price = factories.recurring_price(paying_shop.merchant)
    subs = [
        factories.subscription(
            paying_shop.merchant,
            customer=payer,
            now=d(2027, 1, 1),
            price=price,
            quantity=quantity,
            default_tax_rates=[vat],
        )
        for quantity in (1, 2, 3)
    ]
    first = Event.objects.order_by("pk").last().pk
    Subscription.objects.filter(pk=subs[2].pk).first().items.get().tax_rates.set([levy])

    def item_reads(queries) -> int:
        return sum(1 for q in queries if q["sql"].startswith("SELECT") and 'FROM "billing_invoiceitem"' in q["sql"])

    with CaptureQueriesContext(connection) as queries:
        assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 3
    # Per renewal: its pending items (none); its new lines, with their rates, are the ones it has just made, never
    # read back, for the draft's totals, its finalizing and invoice.paid.
    assert item_reads(queries) == 3
    headers = {"HTTP_AUTHORIZATION": f"Bearer {paying_shop.secret_key.secret}"}
    for event in Event.objects.filter(pk__gt=first, type="invoice.paid").order_by("pk"):
        shown = event.data["object"]
        answer = client.get(f"/v1/invoices/{shown['id']}", **headers).json()
        assert answer["status"] == shown["status"] == "paid"
        for key in ("lines", "default_tax_rates", "total_taxes", "total", "amount_paid"):
            assert shown[key] == answer[key], key
        assert [r["id"] for r in shown["default_tax_rates"]] == [vat.public_id]
    quantities_and_rates = sorted(
        (line["quantity"], [t["tax_rate_details"]["tax_rate"] for t in line["taxes"]])
        for event in Event.objects.filter(pk__gt=first, type="invoice.paid")
        for line in event.data["object"]["lines"]["data"]
    )
    # A line's own rates replace the invoice's defaults (as at Stripe).
    assert quantities_and_rates == [(1, [vat.public_id]), (2, [vat.public_id]), (3, [levy.public_id])]


def _renewal_lines(subscription) -> list[tuple]:
    """The latest invoice's lines (price, quantity, amount, period, rates), then its default rates and total."""
    invoice = Invoice.objects.filter(subscription=subscription).order_by("pk").last()
    lines = sorted(
        (line.price_id, line.quantity, line.amount, line.period_start, sorted(r.pk for r in line.tax_rates.all()))
        for line in invoice.items.all()
    )
    return [*lines, ("invoice", sorted(r.pk for r in invoice.default_tax_rates.all()), invoice.total)]


@pytest.mark.parametrize(
    "change",
    [
        "quantity",
        "quantity_clock_behind",
        "price",
        "item_added",
        "item_removed",
        "item_replaced",
        "item_tax_rates",
        "item_tax_rates_alone",
        "period_moved_alone",
        "default_tax_rates",
        "default_tax_rates_alone",
        "renewed_meanwhile",
        "customer_details",
        "customer_deleted",
    ],
)
def test_a_renewal_bills_what_the_subscription_is_when_it_is_renewed_not_its_batchs_earlier_read(
    paying_shop, payer, stripe_backend, change
):
    """A renewal run reads its batch's subscriptions, items and tax rates in one go, before it renews them one by
    one: a change committed in between (by the API, a merchant in the dashboard, another worker's renewal) must be
    what the renewal bills, exactly as a renewal that read it under its own lock would."""
    from billing.invoices import services as invoice_services
    from billing.subscriptions.selectors import subscriptions_renewal_read
    from kassa.errors import KassaError

    merchant = paying_shop.merchant
    vat = invoice_services.tax_rate_create(
        merchant=merchant, livemode=False, display_name="VAT", percentage="20", inclusive=False
    )
    levy = invoice_services.tax_rate_create(
        merchant=merchant, livemode=False, display_name="Levy", percentage="2.5", inclusive=True
    )
    price = factories.recurring_price(merchant, unit_amount=1000)
    dearer = factories.recurring_price(merchant, unit_amount=2500)
    other = factories.recurring_price(merchant, unit_amount=700)
    # Two alike subscriptions: one renewed from the batch's read after the change, one read under its lock only.
    made = [
        factories.subscription(merchant, customer=payer, now=d(2027, 1, 1), price=price, default_tax_rates=[vat])
        for _ in range(2)
    ]
    for sub in made:
        services.subscription_item_create(
            subscription=sub, now=d(2027, 1, 1), price=dearer, quantity=2, proration_behavior="none"
        )
    due = d(2027, 2, 1, 1) if change != "renewed_meanwhile" else d(2027, 3, 1, 1)  # two periods behind
    read = subscriptions_renewal_read([sub.pk for sub in made])
    at = d(2027, 1, 10)
    none = {"now": at, "proration_behavior": "none"}

    def behind(save):
        wall = timezone.now() - timedelta(minutes=5)
        with mock.patch("django.utils.timezone.now", return_value=wall):
            save()

    changes = {
        "quantity": lambda sub, first, second: services.subscription_item_update(item=first, quantity=3, **none),
        # Saved by a host whose clock is behind: the item's new ``updated`` is older than the other item's.
        "quantity_clock_behind": lambda sub, first, second: behind(
            lambda: services.subscription_item_update(item=first, quantity=3, **none)
        ),
        "price": lambda sub, first, second: services.subscription_item_update(item=first, price=other, **none),
        "item_added": lambda sub, first, second: services.subscription_item_create(
            subscription=sub, price=other, quantity=5, **none
        ),
        "item_removed": lambda sub, first, second: services.subscription_item_delete(item=second, **none),
        # As many items as before, one of them new.
        "item_replaced": lambda sub, first, second: services.subscription_update(
            subscription=sub, items=[{"id": second.public_id, "deleted": True}, {"price": other, "quantity": 2}], **none
        ),
        "item_tax_rates": lambda sub, first, second: services.subscription_item_update(
            item=second, tax_rates=[levy], **none
        ),
        # A writer that saves neither the item nor the subscription.
        "item_tax_rates_alone": lambda sub, first, second: second.tax_rates.set([levy]),
        # The items' period moved (as a renewal moves it) by a writer that does not save the subscription.
        "period_moved_alone": lambda sub, first, second: sub.items.update(current_period_end=d(2027, 2, 15)),
        "default_tax_rates": lambda sub, first, second: services.subscription_update(
            subscription=sub, now=at, default_tax_rates=[levy]
        ),
        # One rate replaced by another (as many as before) by a writer that does not save the subscription.
        "default_tax_rates_alone": lambda sub, first, second: sub.default_tax_rates.set([levy]),
        # Another worker renewed it once (February) after the batch read it.
        "renewed_meanwhile": lambda sub, first, second: services.subscription_renew(subscription_pk=sub.pk, now=due),
    }
    for sub in made:
        if change in changes:
            changes[change](sub, *sub.items.order_by("pk"))
    if change == "customer_details":
        catalogue.customer_update(customer=payer, email="new@example.com", name="Jane Doe")
    elif change == "customer_deleted":
        catalogue.customer_delete(customer=payer)

    def outcome(sub, **read) -> str:
        try:
            return str(services.subscription_renew(subscription_pk=sub.pk, now=due, **read))
        except KassaError as exc:
            return exc.code

    renewed, alone = made
    assert outcome(renewed, read=read[renewed.pk]) == outcome(alone)
    # The same prices, quantities, amounts, period, line and invoice rates, and total as the one read alone.
    assert len(_renewal_lines(renewed)) > 1
    assert _renewal_lines(renewed) == _renewal_lines(alone)
    latest = [Invoice.objects.filter(subscription=sub).order_by("pk").last() for sub in made]
    assert latest[0].customer_email == latest[1].customer_email
    assert latest[0].customer_name == latest[1].customer_name
    if change == "customer_details":
        assert latest[0].customer_email == "new@example.com"
    if change in ("customer_deleted", "period_moved_alone"):
        assert Invoice.objects.filter(subscription=renewed).count() == 1  # not renewed, as the one alone
    elif change == "renewed_meanwhile":
        # February by the other worker, March from the batch's read: one invoice a period, none twice.
        invoices = Invoice.objects.filter(subscription=renewed).order_by("pk")
        assert [{line.period_start for line in i.items.all()} for i in invoices[1:]] == [
            {d(2027, 2, 1)},
            {d(2027, 3, 1)},
        ]
    else:
        assert Invoice.objects.filter(subscription=renewed).count() == 2


def test_a_renewal_run_reads_its_batchs_subscriptions_once_not_once_a_renewal(paying_shop, payer, stripe_backend):
    """What nothing changed since the batch read is not read again under each renewal's lock: a run of three
    renewals reads the subscriptions' items once (each renewal's fingerprint of them is a count and maxima in its
    customer's read, not a read of the items)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    price = factories.recurring_price(paying_shop.merchant)
    for _ in range(3):
        factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), price=price)
    with CaptureQueriesContext(connection) as queries:
        assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 3
    item_reads = [q for q in queries if q["sql"].startswith('SELECT "billing_subscriptionitem".')]
    assert len(item_reads) == 1


def test_a_renewal_takes_its_customers_pending_items_and_reads_none_for_a_customer_who_has_none(
    paying_shop, payer, card_token, stripe_backend
):
    """A renewal's invoice takes the customer's pending invoice items (an installation fee billed with the next
    period, as at Stripe); the renewal counts them under the customer's lock, so a customer with none (the usual
    case) costs no read of them. Two customers renewed in one run: one with a pending item, one without."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = factories.customer(paying_shop.merchant, name="Jane Roe", email="jane@example.com")
    catalogue.customer_update(customer=other, default_payment_method=factories.saved_card(other, card_token))
    other.refresh_from_db()
    with_fee = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    without = factories.subscription(paying_shop.merchant, customer=other, now=d(2027, 1, 1))
    fee = invoices.invoice_item_create(
        merchant=paying_shop.merchant,
        livemode=False,
        customer=payer,
        now=d(2027, 1, 10),
        amount=2500,
        currency="eur",
        description="Installation",
    )
    with CaptureQueriesContext(connection) as queries:
        assert services.subscriptions_renew_due(now=d(2027, 2, 1, 1)) == 2
    with_fee.refresh_from_db()
    without.refresh_from_db()
    fee.refresh_from_db()
    assert fee.invoice == with_fee.latest_invoice
    assert (with_fee.latest_invoice.status, with_fee.latest_invoice.amount_paid) == ("paid", 5000 + 2500)
    assert sorted(i.description or "" for i in with_fee.latest_invoice.items.all())[0] == "Installation"
    assert (without.latest_invoice.status, without.latest_invoice.amount_paid) == ("paid", 5000)
    assert without.latest_invoice.items.count() == 1
    pending_reads = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "billing_invoiceitem".') and "IS NULL" in q["sql"]
    ]
    assert len(pending_reads) == 1  # the customer with the fee's, not the other's


def test_a_page_of_subscriptions_is_read_in_as_many_statements_for_twenty_as_for_two(
    client, paying_shop, payer, stripe_backend
):
    """``GET /v1/subscriptions`` shows each subscription's items, prices and tax rates: read for the page at once,
    so a merchant listing a hundred subscriptions does not wait for hundreds of round trips."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 31, 10))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {paying_shop.secret_key.secret}"}

    def listed(expected: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            answer = client.get("/v1/subscriptions?limit=100", **headers)
        assert answer.status_code == 200
        data = answer.json()["data"]
        assert len(data) == expected
        assert all(s["items"]["data"][0]["price"]["unit_amount"] == 5000 for s in data)
        return len(queries)

    factories.subscriptions_copied(first, customers=[payer])
    listed(2)  # the key's first use reads more (later ones find it cached)
    two = listed(2)
    factories.subscriptions_copied(first, customers=[payer] * 18)
    assert listed(20) == two


def test_a_declined_renewal_makes_the_subscription_past_due(paying_shop, payer, card_token, stripe_backend):
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    declined = factories.saved_card(payer, card_token, "4000000000000341")
    services.subscription_update(subscription=sub, now=d(2027, 1, 2), default_payment_method=declined)
    services.subscriptions_renew_due(now=d(2027, 2, 1))
    sub.refresh_from_db()
    assert sub.status == "past_due"
    assert sub.latest_invoice.status == "open"
    # The renewal's charge was dunning's first automatic attempt: the retries are scheduled (1 day after, by
    # default), and beat's run of the same attempt changes nothing.
    invoice = sub.latest_invoice
    assert (invoice.attempt_count, invoice.dunning_started_at) == (1, d(2027, 2, 1))
    assert invoice.next_payment_attempt == d(2027, 2, 2)
    assert invoices.invoices_advance(now=d(2027, 2, 1, 0, 1)) == 0
    invoice.refresh_from_db()
    assert (invoice.attempt_count, invoice.next_payment_attempt) == (1, d(2027, 2, 2))


def test_a_trial_bills_nothing_then_its_end_bills_the_first_period(paying_shop, payer, stripe_backend):
    now = d(2027, 3, 1)
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=now, trial_period_days=14)
    assert sub.status == "trialing"
    assert (sub.latest_invoice.total, sub.latest_invoice.status) == (0, "paid")
    assert services.subscriptions_notify(now=d(2027, 3, 12)) == 2  # trial_will_end and invoice.upcoming
    assert services.subscriptions_notify(now=d(2027, 3, 12, 1)) == 0
    notices = list(Event.objects.filter(type__in=["invoice.upcoming", "customer.subscription.trial_will_end"]))
    assert {e.type for e in notices} <= set(EVENT_TYPES)
    upcoming = next(e for e in notices if e.type == "invoice.upcoming").data["object"]
    assert (upcoming["amount_due"], upcoming["parent"]["subscription_details"]["subscription"]) == (5000, sub.public_id)
    services.subscriptions_renew_due(now=d(2027, 3, 15))
    sub.refresh_from_db()
    assert sub.status == "active"
    assert _periods(sub)[-1][:3] == ("subscription_cycle", "paid", 5000)
    assert sub.items.get().current_period_end == d(2027, 4, 15)


def test_invoice_upcoming_shows_what_the_renewal_then_bills_taxes_and_prorations_included(
    paying_shop, payer, stripe_backend
):
    """invoice.upcoming is the next invoice as invoices.create_preview shows it: its tax and the proration a
    mid-period change left pending are in its amount, which is what the renewal charges three days later."""
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))  # 50.00 EUR a month
    vat = invoices.tax_rate_create(
        merchant=paying_shop.merchant, livemode=False, display_name="VAT", percentage="20", inclusive=False
    )
    sub.default_tax_rates.add(vat)
    item = sub.items.get()
    services.subscription_item_update(item=item, now=d(2027, 1, 16, 12), quantity=2)  # pending: half a month more
    assert services.subscriptions_notify(now=d(2027, 1, 29)) == 1
    upcoming = Event.objects.get(type="invoice.upcoming").data["object"]

    services.subscriptions_renew_due(now=d(2027, 2, 1))
    renewal_invoice = Invoice.objects.filter(subscription=sub).order_by("pk").last()
    assert renewal_invoice.billing_reason == "subscription_cycle"
    assert upcoming["amount_due"] == renewal_invoice.amount_due == renewal_invoice.total
    assert upcoming["total_taxes"][0]["amount"] == renewal_invoice.total - renewal_invoice.subtotal > 0
    shown = sorted((line["amount"], line["description"]) for line in upcoming["lines"]["data"])
    billed = sorted((line.amount, line.description) for line in renewal_invoice.items.all())
    assert shown == billed
    assert any(line["parent"]["subscription_item_details"]["proration"] for line in upcoming["lines"]["data"])


def test_cancel_at_period_end_ends_it_without_another_invoice(paying_shop, payer, stripe_backend):
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    services.subscription_update(subscription=sub, now=d(2027, 1, 10), cancel_at_period_end=True)
    services.subscriptions_renew_due(now=d(2027, 2, 1))
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 2, 1))
    assert Invoice.objects.filter(subscription=sub).count() == 1
    assert Event.objects.filter(type="customer.subscription.deleted").count() == 1


def test_an_unpaid_first_invoice_expires_after_23_hours(paying_shop, stripe_backend):
    customer = factories.customer(paying_shop.merchant)  # no card
    sub = factories.subscription(paying_shop.merchant, customer=customer, now=d(2027, 1, 1))
    assert sub.status == "incomplete"
    services.subscriptions_renew_due(now=d(2027, 1, 1, 22))
    sub.refresh_from_db()
    assert sub.status == "incomplete"
    services.subscriptions_renew_due(now=d(2027, 1, 1, 23))
    sub.refresh_from_db()
    assert sub.status == "incomplete_expired"
    assert sub.latest_invoice.status == "void"


def test_every_30_days_from_1_february(paying_shop, payer, stripe_backend):
    price = factories.recurring_price(paying_shop.merchant, interval="day", interval_count=30)
    sub = factories.subscription(paying_shop.merchant, customer=payer, price=price, now=d(2027, 2, 1))
    services.subscriptions_renew_due(now=d(2027, 3, 3))
    services.subscriptions_renew_due(now=d(2027, 4, 2))
    assert [p[3].date() for p in _periods(sub)] == [d(2027, 2, 1).date(), d(2027, 3, 3).date(), d(2027, 4, 2).date()]


def test_day_of_month_anchor_bills_the_stub_share_or_nothing(paying_shop, payer, stripe_backend):
    prorated = factories.subscription(
        paying_shop.merchant, customer=payer, now=d(2027, 4, 16), billing_cycle_anchor_day_of_month=1
    )
    # 15 of April's 30 days (16 April to 1 May): half of 50.00.
    assert prorated.latest_invoice.total == 2500
    assert prorated.items.get().current_period_end == d(2027, 5, 1)
    price = factories.recurring_price(paying_shop.merchant, unit_amount=3000)
    free = factories.subscription(
        paying_shop.merchant,
        customer=payer,
        price=price,
        now=d(2027, 4, 16),
        billing_cycle_anchor_day_of_month=1,
        proration_behavior="none",
    )
    assert free.latest_invoice.total == 0
    assert free.status == "active"


def _cycle_invoice(sub: Subscription, start: datetime, *, held: bool = False) -> Invoice:
    """A draft for ``sub``'s period from ``start``, as a renewal makes it (its lines aside)."""
    return invoices.invoice_create(
        merchant=sub.merchant,
        livemode=False,
        customer=sub.customer,
        now=start,
        billing_reason="subscription_cycle",
        subscription=sub,
        subscription_period_start=start,
        held=held,
    )


def test_the_database_refuses_a_second_invoice_for_a_period_and_the_callers_transaction_goes_on(
    paying_shop, payer, stripe_backend
):
    """Whether invoicing makes the draft in a savepoint of its own or in its caller's transaction with none (held,
    as a renewal does): a second invoice for a period is refused (an IntegrityError, ``PeriodInvoiced``), nothing
    is written, and the caller's transaction goes on (on PostgreSQL an INSERT the database refused would have
    ended it): the next period is invoiced in it."""
    from django.db import IntegrityError, transaction

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    for n, held in enumerate((False, True), start=2):
        with transaction.atomic():
            with pytest.raises(IntegrityError) as refused:
                _cycle_invoice(sub, d(2027, 1, 1), held=held)
            assert isinstance(refused.value, invoices.PeriodInvoiced)
            assert Invoice.objects.filter(subscription=sub, subscription_period_start=d(2027, 1, 1)).count() == 1
            assert _cycle_invoice(sub, d(2027, n, 1), held=held).subscription_period_start == d(2027, n, 1)
    starts = Invoice.objects.filter(subscription=sub).order_by("pk").values_list("subscription_period_start", flat=True)
    assert list(starts) == [d(2027, 1, 1), d(2027, 2, 1), d(2027, 3, 1)]
    assert Subscription.objects.get(pk=sub.pk).status == "active"


def test_a_renewal_that_finds_its_period_invoiced_already_moves_on_without_a_second_invoice_or_charge(
    paying_shop, payer, stripe_backend
):
    """The database's constraint, not the row lock, is what guarantees one invoice a period: a renewal that meets
    its period's invoice made already (by a run that committed it without moving the period, which the lock
    prevents) makes no second one and charges nothing, and the rest of its transaction, which has no savepoint
    for the draft, commits: the period moves on."""
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    made = _cycle_invoice(sub, d(2027, 2, 1))
    charges = len(processor_payment_intents(stripe_backend))
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1, 1))
    assert list(Invoice.objects.filter(subscription=sub, subscription_period_start=d(2027, 2, 1))) == [made]
    assert len(processor_payment_intents(stripe_backend)) == charges
    sub.refresh_from_db()
    item = sub.items.get()
    assert (item.current_period_start, item.current_period_end) == (d(2027, 2, 1), d(2027, 3, 1))
    assert sub.next_renewal_at == d(2027, 3, 1)


def test_fan_out_queues_one_batch_per_merchant(paying_shop, payer, other_shop, stripe_backend, monkeypatch, settings):
    from django.core.cache import cache

    from kassa import celery

    settings.KASSA_RENEWAL_CHAINS = 1  # one chain per merchant here; two below
    queued = []
    monkeypatch.setattr(celery, "enqueue", lambda name, *args, **kw: queued.append((name, args)))
    cache.clear()
    factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    factories.subscription(
        paying_shop.merchant,
        customer=payer,
        now=d(2027, 1, 1),
        price=factories.recurring_price(paying_shop.merchant, unit_amount=100),
    )
    assert services.subscriptions_renew_fan_out(now=d(2027, 2, 1, 1)) == 1
    assert services.subscriptions_renew_fan_out(now=d(2027, 2, 1, 1)) == 0  # its chain is running
    assert queued == [("billing.tasks.subscriptions_renew_batch", (paying_shop.merchant.pk, False, 0))]
    # A batch of one: the merchant's chain renews one, then queues itself at the back of the queue.
    monkeypatch.setattr(renewal, "BATCH", 1)
    batch = {"merchant_pk": paying_shop.merchant.pk, "livemode": False, "now": d(2027, 2, 1, 1), "chain": 0}
    assert services.subscriptions_renew_batch(**batch) == 1
    assert len(queued) == 2
    assert services.subscriptions_renew_batch(**batch) == 1
    assert len(queued) == 2  # nothing left: the chain ends, and its key with it
    assert services.subscriptions_renew_fan_out(now=d(2027, 2, 1, 1)) == 0
    assert services.subscriptions_renew_fan_out(now=d(2027, 3, 1, 1)) == 1


def test_a_merchant_renews_on_two_chains_that_never_take_the_same_subscription(
    paying_shop, payer, stripe_backend, monkeypatch
):
    """Two chains per merchant (KASSA_RENEWAL_CHAINS, as bin/worker's two processes): a big renewal day uses both
    processes, each chain on its own subscriptions (by id), so they never wait on each other's row locks."""
    from django.core.cache import cache

    from kassa import celery

    queued = []
    monkeypatch.setattr(celery, "enqueue", lambda name, *args, **kw: queued.append((name, args)))
    cache.clear()
    price = factories.recurring_price(paying_shop.merchant)
    subs = [factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1), price=price)]
    subs.append(
        factories.subscription(
            paying_shop.merchant,
            customer=payer,
            now=d(2027, 1, 1),
            price=factories.recurring_price(paying_shop.merchant, unit_amount=100),
        )
    )
    assert {s.pk % 2 for s in subs} == {0, 1}  # consecutive ids
    assert services.subscriptions_renew_fan_out(now=d(2027, 2, 1, 1)) == 2
    merchant = paying_shop.merchant.pk
    assert sorted(args for _name, args in queued) == [(merchant, False, 0), (merchant, False, 1)]
    for chain in (0, 1):
        assert (
            services.subscriptions_renew_batch(merchant_pk=merchant, livemode=False, now=d(2027, 2, 1, 1), chain=chain)
            == 1
        )
        renewed = {s.pk for s in subs if Subscription.objects.get(pk=s.pk).next_renewal_at > d(2027, 2, 1, 1)}
        assert renewed == {s.pk for s in subs if s.pk % 2 <= chain}
    assert len(queued) == 2  # nothing left on either chain: neither queued itself again


def test_trial_end_now_bills_the_first_period_at_once(paying_shop, payer, stripe_backend):
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 3, 1), trial_period_days=30)
    sub = services.subscription_update(subscription=sub, now=d(2027, 3, 10), trial_end="now")
    assert sub.status == "active"
    assert (sub.trial_end, sub.billing_cycle_anchor) == (d(2027, 3, 10), d(2027, 3, 10))
    assert _periods(sub)[-1] == ("subscription_cycle", "paid", 5000, d(2027, 3, 10), d(2027, 4, 10))


def test_trial_end_now_in_the_second_the_trial_began_bills_the_first_period_once(paying_shop, payer, stripe_backend):
    at = d(2027, 3, 1, 9)
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=at, trial_period_days=30)

    sub = services.subscription_update(subscription=sub, now=at, trial_end="now")

    assert sub.status == "active"
    assert _periods(sub) == [
        ("subscription_create", "paid", 0, at, d(2027, 3, 31, 9)),  # the trial's, as issued
        ("subscription_cycle", "paid", 5000, at, d(2027, 4, 1, 9)),
    ]
    assert sub.latest_invoice.billing_reason == "subscription_cycle"
    assert sub.next_renewal_at == d(2027, 4, 1, 9)
    # Beat, a retry or a second worker at the same second: still one invoice for the period, one charge.
    assert services.subscriptions_renew_due(now=at) == 0
    services.subscriptions_renew_due(now=d(2027, 4, 1, 9))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000, 5000]
    assert Invoice.objects.filter(subscription=sub, billing_reason="subscription_cycle").count() == 2


@pytest.mark.parametrize(
    ("behavior", "status"), [("keep_as_draft", "draft"), ("void", "void"), ("mark_uncollectible", "uncollectible")]
)
def test_paused_collection_invoices_without_charging(paying_shop, payer, stripe_backend, behavior, status):
    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    services.subscription_update(
        subscription=sub, now=d(2027, 1, 5), pause_collection={"behavior": behavior, "resumes_at": d(2027, 2, 15)}
    )
    services.subscriptions_renew_due(now=d(2027, 2, 1))
    assert _periods(sub)[-1][:2] == ("subscription_cycle", status)
    assert len(processor_payment_intents(stripe_backend)) == 1
    # Collection resumes by itself at resumes_at; the next period is charged again.
    services.subscriptions_renew_due(now=d(2027, 3, 1))
    sub.refresh_from_db()
    assert sub.pause_behavior is None
    assert _periods(sub)[-1][:2] == ("subscription_cycle", "paid")


def test_only_the_latest_invoice_decides_the_status(paying_shop, payer, card_token, stripe_backend):
    from billing.invoices import services as invoices

    sub = factories.subscription(paying_shop.merchant, customer=payer, now=d(2027, 1, 1))
    declined = factories.saved_card(payer, card_token, "4000000000000341")
    services.subscription_update(subscription=sub, now=d(2027, 1, 2), default_payment_method=declined)
    services.subscriptions_renew_due(now=d(2027, 2, 1))
    sub.refresh_from_db()
    january_unpaid = sub.latest_invoice
    assert sub.status == "past_due"
    good = factories.saved_card(payer, card_token)
    services.subscription_update(subscription=sub, now=d(2027, 2, 2), default_payment_method=good)
    services.subscriptions_renew_due(now=d(2027, 3, 1))  # March's invoice is paid: the latest decides
    sub.refresh_from_db()
    assert sub.status == "active"
    invoices.invoice_void(invoice=january_unpaid, now=d(2027, 3, 2))  # an older invoice changes nothing
    sub.refresh_from_db()
    assert sub.status == "active"
