"""Dunning as a payer and a merchant notice it: a declined automatic charge is retried on the merchant's schedule
(test clock time), each failure emails the payer a link to pay with another card, a new default card pays at
once, the final action comes after the last retry, and nothing is ever charged twice."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from django.db import connection
from django.utils import timezone

from billing.invoices import services
from billing.invoices.services import dunning
from billing.models import Invoice
from kassa import gateway
from kassa.errors import CardError, ProcessorError
from tests.billing.clocks.test_advancing import _clock_customer, _draft, _invoice_events
from tests.conftest import processor_payment_intents
from webhooks.models import Event

DAY = 86400


#: The dunning emails' subjects, in English and French (declined, a new card needed, 3-D Secure).
SUBJECTS = ("failed", "Update your card", "Confirm your payment", "a échoué", "Mettez à jour", "Confirmez")


def _failure_emails(mailoutbox, to: str) -> list:
    return [m for m in mailoutbox if m.to == [to] and any(words in m.subject for words in SUBJECTS)]


def _row(invoice_id: str) -> Invoice:
    return Invoice.objects.get(public_id=invoice_id)


@pytest.fixture
def exhausted(monkeypatch):
    """What a subscription would register (``on_dunning_exhausted``): the calls it gets."""
    calls = []
    monkeypatch.setattr(dunning, "_EXHAUSTED_HOOKS", [lambda *, invoice, now: calls.append((invoice.public_id, now))])
    return calls


def test_a_declining_card_is_retried_after_1_3_5_and_7_days_of_clock_time_then_marked_uncollectible(
    api, paying_shop, card_token, stripe_backend, emails_on_commit, mailoutbox, exhausted
):
    services.dunning_settings_update(merchant=paying_shop.merchant, livemode=False, invoice_action="mark_uncollectible")
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    payer = _clock_customer(api, clock, card_token, number="4000000000000341")
    invoice = _draft(api, payer, auto_advance=True)
    # Finalized an hour after it was made, and charged then, to the second (the clock's step ends there): declined
    # (localstripe: no decline code). The schedule counts from that first failure.
    start = invoice.automatically_finalizes_at
    assert start == invoice.created + 3600
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": clock.frozen_time + 7200})
    failed = api.v1.invoices.retrieve(invoice.id)
    assert (failed.status, failed.attempt_count, failed.next_payment_attempt) == ("open", 1, start + DAY)
    link = "/portal/link/"  # the customer portal, where a new card is the customer's default (retried at once)
    emails = _failure_emails(mailoutbox, "clock@example.com")
    assert len(emails) == 1
    assert link in emails[0].body
    assert "try your card again" in emails[0].body
    assert len(processor_payment_intents(stripe_backend)) == 1

    # Each retry on its day of the clock: one new charge, one more email, the next date from the first failure.
    for number, (day, next_day) in enumerate([(1, 3), (3, 5), (5, 7)], start=2):
        with emails_on_commit():
            api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + day * DAY - 60})
        assert api.v1.invoices.retrieve(invoice.id).attempt_count == number - 1  # not a minute early
        with emails_on_commit():
            api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + day * DAY})
        retried = api.v1.invoices.retrieve(invoice.id)
        assert (retried.status, retried.attempt_count, retried.next_payment_attempt) == (
            "open",
            number,
            start + next_day * DAY,
        )
        assert len(processor_payment_intents(stripe_backend)) == number
        emails = _failure_emails(mailoutbox, "clock@example.com")
        assert len(emails) == number
        assert link in emails[-1].body
    assert not exhausted

    with emails_on_commit():  # the last retry fails: the merchant's final action
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 7 * DAY})
    final = api.v1.invoices.retrieve(invoice.id)
    assert (final.status, final.attempt_count, final.next_payment_attempt) == ("uncollectible", 5, None)
    assert len(processor_payment_intents(stripe_backend)) == 5
    assert exhausted == [(invoice.id, datetime.fromtimestamp(start + 7 * DAY, tz=UTC))]
    emails = _failure_emails(mailoutbox, "clock@example.com")
    assert len(emails) == 5
    assert "last automatic attempt" in emails[-1].body
    events = _invoice_events(invoice.id)
    assert events.count("invoice.payment_failed") == 5
    assert events.count("invoice.marked_uncollectible") == 1
    updates = [
        e.data
        for e in Event.objects.filter(type="invoice.updated").order_by("pk")
        if e.data["object"]["id"] == invoice.id and "next_payment_attempt" in e.data.get("previous_attributes", {})
    ]
    assert [u["object"]["next_payment_attempt"] for u in updates] == [
        start + DAY,
        start + 3 * DAY,
        start + 5 * DAY,
        start + 7 * DAY,
        None,
    ]

    # Time goes on: nothing more is charged, the hook is not called again.
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 20 * DAY})
    assert len(processor_payment_intents(stripe_backend)) == 5
    assert len(exhausted) == 1


def test_left_open_after_the_last_retry_by_default_and_an_empty_schedule_gives_up_at_once(
    api, paying_shop, customer, save_card, stripe_backend, exhausted
):
    services.dunning_settings_update(merchant=paying_shop.merchant, livemode=False, retry_days=[])
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    later = timezone.now() + timedelta(hours=1, seconds=1)
    services.invoices_advance(now=later)
    row = _row(invoice.id)
    assert (row.status, row.next_payment_attempt, row.dunning_exhausted_at) == ("open", None, later)
    assert exhausted == [(invoice.id, later)]
    services.invoices_retry_due(now=later + timedelta(days=30))
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_a_new_default_card_pays_the_past_due_invoice_at_once(
    api, customer, save_card, stripe_backend, emails_on_commit, mailoutbox
):
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    with emails_on_commit():
        services.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    assert api.v1.invoices.retrieve(invoice.id).status == "open"
    assert len(_failure_emails(mailoutbox, "payer@example.com")) == 1

    with emails_on_commit():  # stripe-python's customers.update, as a merchant's integration calls it
        save_card("4242424242424242")
    paid = api.v1.invoices.retrieve(invoice.id)
    assert (paid.status, paid.amount_paid, paid.attempt_count, paid.next_payment_attempt) == ("paid", 1500, 2, None)
    assert len(processor_payment_intents(stripe_backend)) == 2

    # The task run again (a worker killed after the charge): nothing more is charged.
    customer_row = _row(invoice.id).customer
    assert services.invoices_retry_for_customer(customer=customer_row, now=timezone.now()) == 0
    assert len(processor_payment_intents(stripe_backend)) == 2


def test_an_invoices_own_default_card_detached_without_being_cleared_is_passed_over_for_the_customers(
    api, customer, save_card, stripe_backend
):
    """An invoice names a card as its default and the card is detached without the invoice being cleared (named
    before a detach cleared invoices, or set by an update that read the card just before a detach committed): its
    automatic attempt charges the customer's default card instead of failing on the removed one, every time."""
    from billing.models import PaymentMethod

    leaving = save_card(default=False)
    staying = save_card("5555555555554444")
    invoice = _draft(api, customer, auto_advance=True, default_payment_method=leaving.id)
    PaymentMethod.objects.filter(public_id=leaving.id).update(customer=None)  # detached elsewhere, invoice untouched
    services.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    paid = api.v1.invoices.retrieve(invoice.id, params={"expand": ["payments.data.payment.payment_intent"]})
    assert (paid.status, paid.default_payment_method, paid.attempt_count) == ("paid", leaving.id, 1)
    assert paid.payments.data[0].payment.payment_intent.payment_method == staying.id
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_a_repeated_retry_run_does_not_charge_twice(api, customer, save_card, stripe_backend, monkeypatch):
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    first = timezone.now() + timedelta(hours=1, seconds=1)
    services.invoices_advance(now=first)
    retry_at = first + timedelta(days=1)

    # The run dies after charging, before recording the outcome (a worker killed): the retry is still due.
    real_record = dunning._outcome_record

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(dunning, "_outcome_record", killed)
    with pytest.raises(SystemExit):
        services.invoices_retry_due(now=retry_at)
    assert len(processor_payment_intents(stripe_backend)) == 2
    monkeypatch.setattr(dunning, "_outcome_record", real_record)

    # Beat runs it again, twice: the attempt under the same key is found made, its outcome recorded once.
    services.invoices_retry_due(now=retry_at + timedelta(minutes=1))
    services.invoices_retry_due(now=retry_at + timedelta(minutes=2))
    row = _row(invoice.id)
    assert len(processor_payment_intents(stripe_backend)) == 2
    assert (row.attempt_count, row.dunning_retries) == (2, 1)
    assert row.next_payment_attempt == first + timedelta(days=3)
    assert _invoice_events(invoice.id).count("invoice.payment_failed") == 2


def test_a_hard_decline_waits_for_a_new_card_and_gives_up_on_the_last_day(
    api, paying_shop, client, customer, save_card, stripe_backend, monkeypatch, emails_on_commit, mailoutbox, exhausted
):
    # localstripe gives no decline codes: its answer is relabelled at the gateway boundary as the issuer's.
    real_confirm = gateway.payment_intent_confirm

    def stolen(*args, **kwargs):
        result = real_confirm(*args, **kwargs)
        if result.status in ("failed", "requires_payment_method"):
            result = gateway.ProcessorPayment(
                id=result.id,
                status="failed",
                error_code="card_declined",
                decline_code="stolen_card",
                error_message="Your card was declined.",
            )
        return result

    monkeypatch.setattr(gateway, "payment_intent_confirm", stolen)
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    first = timezone.now() + timedelta(hours=1, seconds=1)
    with emails_on_commit():
        services.invoices_advance(now=first)
    row = _row(invoice.id)
    assert (row.status, row.next_payment_attempt, row.dunning_ends_at) == ("open", None, first + timedelta(days=7))
    emails = _failure_emails(mailoutbox, "payer@example.com")
    assert len(emails) == 1
    assert "nouvelle carte" in emails[0].body  # the invoice's language (the customer's fr-FR)
    assert "/portal/link/" in emails[0].body

    client.force_login(paying_shop.owner)  # the merchant's invoice page says what it waits for
    page = client.get(f"/admin/billing/invoice/{row.pk}/change/").text
    assert "Automatic payment failed" in page
    assert "Waiting for the customer" in page

    for day in (1, 3, 5):  # not retried blindly on the schedule
        services.invoices_retry_due(now=first + timedelta(days=day))
    assert len(processor_payment_intents(stripe_backend)) == 1
    assert not exhausted
    services.invoices_retry_due(now=first + timedelta(days=7))
    assert exhausted == [(invoice.id, first + timedelta(days=7))]
    assert _row(invoice.id).status == "open"  # the default: left open
    assert "Retries exhausted" in client.get(f"/admin/billing/invoice/{row.pk}/change/").text


def test_a_card_asking_for_3d_secure_off_session_is_emailed_a_link_to_authenticate(
    api, customer, save_card, stripe_backend, emails_on_commit, mailoutbox
):
    save_card("4000002500003155")
    invoice = _draft(api, customer, auto_advance=True)
    with emails_on_commit():
        services.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    row = _row(invoice.id)
    assert (row.status, row.next_payment_attempt) == ("open", None)
    assert "invoice.payment_action_required" in _invoice_events(invoice.id)
    emails = _failure_emails(mailoutbox, "payer@example.com")
    assert len(emails) == 1
    assert f"/invoices/{row.token}" in emails[0].body
    assert "3-D Secure" in emails[0].body


@pytest.mark.parametrize(
    ("code", "decline_code", "kind"),
    [
        ("card_declined", None, "declined"),  # localstripe's 0341: no code, soft
        ("card_declined", "insufficient_funds", "declined"),
        ("card_declined", "do_not_honor", "declined"),
        ("card_declined", "generic_decline", "declined"),
        ("card_declined", "stolen_card", "card"),
        ("card_declined", "lost_card", "card"),
        ("card_declined", "fraudulent", "card"),
        ("expired_card", None, "card"),
        ("incorrect_number", None, "card"),
        ("authentication_required", None, "action"),
        ("card_declined", "authentication_required", "action"),
    ],
)
def test_the_retry_rule(code, decline_code, kind):
    assert services.decline_kind(code=code, decline_code=decline_code) == kind


def test_a_retry_the_processor_did_not_answer_is_made_again_under_its_key_and_counted_once(
    api, customer, save_card, stripe_backend, monkeypatch
):
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    first = timezone.now() + timedelta(hours=1, seconds=1)
    services.invoices_advance(now=first)
    real_confirm = gateway.payment_intent_confirm
    keys = []

    def no_answer(*args, **kwargs):
        keys.append(kwargs["idempotency_key"])
        raise ProcessorError("Stripe did not answer.")

    monkeypatch.setattr(gateway, "payment_intent_confirm", no_answer)
    services.invoices_retry_due(now=first + timedelta(days=1))
    row = _row(invoice.id)
    assert (row.attempt_count, row.dunning_retries) == (2, 0)  # made, outcome unknown: still due
    assert row.next_payment_attempt == first + timedelta(days=1)

    def answered(*args, **kwargs):
        keys.append(kwargs["idempotency_key"])
        return real_confirm(*args, **kwargs)

    monkeypatch.setattr(gateway, "payment_intent_confirm", answered)
    services.invoices_retry_due(now=first + timedelta(days=1, minutes=1))
    row = _row(invoice.id)
    assert keys[0] == keys[1]  # the same attempt, made again under its own key
    assert (row.attempt_count, row.dunning_retries) == (2, 1)
    assert row.next_payment_attempt == first + timedelta(days=3)
    assert len(processor_payment_intents(stripe_backend)) == 2  # the first attempt and this retry


def test_two_beats_retrying_at_once_charge_once(api, customer, save_card, stripe_backend, transactional_db):
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    first = timezone.now() + timedelta(hours=1, seconds=1)
    services.invoices_advance(now=first)
    barrier = threading.Barrier(2)

    def beat():
        barrier.wait()
        try:
            services.invoices_retry_due(now=first + timedelta(days=1))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = _row(invoice.id)
    assert len(processor_payment_intents(stripe_backend)) == 2  # the first attempt and one retry
    assert (row.attempt_count, row.dunning_retries) == (2, 1)
    assert row.next_payment_attempt == first + timedelta(days=3)
    assert _invoice_events(invoice.id).count("invoice.payment_failed") == 2


def test_without_a_card_the_payer_is_asked_for_one(api, customer, stripe_backend, emails_on_commit, mailoutbox):
    api.v1.customers.update(customer.id, params={"preferred_locales": ["en"]})
    invoice = _draft(api, customer, auto_advance=True)
    with emails_on_commit():
        services.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    row = _row(invoice.id)
    assert (row.status, row.attempt_count, row.next_payment_attempt) == ("open", 1, None)
    emails = _failure_emails(mailoutbox, "payer@example.com")
    assert len(emails) == 1
    assert emails[0].subject.startswith("[Test] Update your card to pay invoice")
    assert "There is no card on file" in emails[0].body
    assert "/portal/link/" in emails[0].body


def test_the_emailed_link_opens_the_portal_where_a_new_card_pays_the_invoice_at_once(
    api, paying_shop, customer, save_card, card_token, stripe_backend, emails_on_commit, mailoutbox
):
    from django.test import Client

    from billing.hosted import framing
    from billing.models import PortalSession

    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    with emails_on_commit():
        services.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    assert _row(invoice.id).status == "open"
    (email,) = _failure_emails(mailoutbox, "payer@example.com")
    (link,) = re.findall(r"https?://\S+/portal/link/\S+", email.body)

    payer = Client()
    opened = payer.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert opened.status_code == 302
    session = PortalSession.objects.get()
    assert payer.get(opened["Location"]).status_code == 200
    with emails_on_commit():
        answer = payer.post(
            f"/portal/{session.token}/card",
            {"token": card_token("4242424242424242")},
            content_type="application/json",
            headers={framing.PAGE_TOKEN_HEADER: framing.page_token(session)},
        )
    assert answer.status_code == 200, answer.content
    paid = api.v1.invoices.retrieve(invoice.id)
    assert (paid.status, paid.amount_paid) == ("paid", paid.total)
    assert len(processor_payment_intents(stripe_backend)) == 2  # the declined try, then the new card: once


def test_without_card_updates_in_the_portal_the_email_links_the_invoice_page(
    api, paying_shop, customer, save_card, stripe_backend, emails_on_commit, mailoutbox
):
    from billing.portal import services as portal

    configuration = portal.portal_configuration_for(merchant=paying_shop.merchant, livemode=False)
    portal.portal_configuration_update(configuration=configuration, payment_method_update=False)
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    with emails_on_commit():
        services.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    (email,) = _failure_emails(mailoutbox, "payer@example.com")
    assert f"/invoices/{_row(invoice.id).token}" in email.body
    assert "/portal/" not in email.body


def test_a_manual_decline_before_any_automatic_attempt_is_the_first_attempt_and_the_schedule_follows_it(
    api, paying_shop, card_token, stripe_backend, emails_on_commit, mailoutbox, exhausted
):
    """Stripe's ``attempt_count``: "Any payment attempt counts as the first attempt, and subsequently only automatic
    retries increment the attempt count. In other words, manual payment attempts after the first attempt do not
    affect the retry schedule." A merchant finalizing and paying at once (the API's ``pay``), declined, has the
    invoice retried on the merchant's schedule from that decline: no second charge a minute later, no dunning
    switched off."""
    services.dunning_settings_update(merchant=paying_shop.merchant, livemode=False, invoice_action="mark_uncollectible")
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    payer = _clock_customer(api, clock, card_token, number="4000000000000341")
    invoice = _draft(api, payer, auto_advance=True)
    start = clock.frozen_time
    api.v1.invoices.finalize_invoice(invoice.id)
    with emails_on_commit(), pytest.raises(stripe.CardError):
        api.v1.invoices.pay(invoice.id)
    declined = api.v1.invoices.retrieve(invoice.id)
    assert (declined.status, declined.attempt_count, declined.next_payment_attempt) == ("open", 1, start + DAY)
    emails = _failure_emails(mailoutbox, "clock@example.com")
    assert len(emails) == 1
    assert "try your card again" in emails[0].body
    assert len(processor_payment_intents(stripe_backend)) == 1

    # Beat's next passes: the declined payment was the first attempt, so none is made again before the first retry.
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + DAY - 60})
    assert len(processor_payment_intents(stripe_backend)) == 1
    assert api.v1.invoices.retrieve(invoice.id).attempt_count == 1

    # The retries on the merchant's days (1, 3, 5, 7 after that decline), one charge and one email each.
    for number, (day, next_day) in enumerate([(1, 3), (3, 5), (5, 7)], start=2):
        with emails_on_commit():
            api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + day * DAY})
        retried = api.v1.invoices.retrieve(invoice.id)
        assert (retried.status, retried.attempt_count, retried.next_payment_attempt) == (
            "open",
            number,
            start + next_day * DAY,
        )
        assert len(processor_payment_intents(stripe_backend)) == number
        assert len(_failure_emails(mailoutbox, "clock@example.com")) == number
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 7 * DAY})
    final = api.v1.invoices.retrieve(invoice.id)
    assert (final.status, final.attempt_count, final.next_payment_attempt) == ("uncollectible", 5, None)
    assert exhausted == [(invoice.id, datetime.fromtimestamp(start + 7 * DAY, tz=UTC))]
    emails = _failure_emails(mailoutbox, "clock@example.com")
    assert len(emails) == 5
    assert "last automatic attempt" in emails[-1].body
    assert _invoice_events(invoice.id).count("invoice.payment_failed") == 5


def test_a_manual_decline_once_dunning_began_neither_moves_nor_adds_a_retry(
    api, customer, save_card, stripe_backend, emails_on_commit, mailoutbox
):
    save_card("4000000000000341")
    invoice = _draft(api, customer, auto_advance=True)
    first = timezone.now() + timedelta(hours=1, seconds=1)
    with emails_on_commit():
        services.invoices_advance(now=first)
    row = _row(invoice.id)
    assert row.next_payment_attempt == first + timedelta(days=1)
    with emails_on_commit(), pytest.raises(stripe.CardError):
        api.v1.invoices.pay(invoice.id)
    row = _row(invoice.id)
    assert (row.next_payment_attempt, row.dunning_retries) == (first + timedelta(days=1), 0)
    # Stripe's attempt_count: only the first attempt and the automatic retries count, not this payment by hand.
    assert api.v1.invoices.retrieve(invoice.id).attempt_count == 1
    assert len(_failure_emails(mailoutbox, "payer@example.com")) == 1  # the automatic attempt's only
    # The first retry is still made on its day, and the next one is the schedule's.
    with emails_on_commit():
        services.invoices_retry_due(now=first + timedelta(days=1))
    row = _row(invoice.id)
    assert (row.next_payment_attempt, row.dunning_retries, row.attempt_count) == (first + timedelta(days=3), 1, 2)
    assert len(processor_payment_intents(stripe_backend)) == 3
    assert len(_failure_emails(mailoutbox, "payer@example.com")) == 2


def test_the_payers_one_off_card_declined_on_the_hosted_page_starts_the_schedule_on_the_default_card(
    api, customer, save_card, card_token, stripe_backend, emails_on_commit, mailoutbox
):
    """The payer tries another card on the hosted page before any automatic attempt: declined, it is the first
    attempt; the retries charge the customer's default card (never tried, so retried on schedule whatever the
    other card's decline said), and the first one pays."""
    save_card("4242424242424242")
    invoice = _draft(api, customer, auto_advance=True)
    api.v1.invoices.finalize_invoice(invoice.id)
    before = timezone.now()
    with emails_on_commit(), pytest.raises(CardError):
        services.invoice_pay_with_card_token(invoice=_row(invoice.id), now=before, token=card_token("4000000000000341"))
    after = timezone.now()
    row = _row(invoice.id)
    assert (row.status, row.attempt_count) == ("open", 1)
    assert before + timedelta(days=1) <= row.next_payment_attempt <= after + timedelta(days=1)
    assert len(_failure_emails(mailoutbox, "payer@example.com")) == 1
    services.invoices_advance(now=after + timedelta(minutes=5))  # beat: nothing due before the first retry
    assert len(processor_payment_intents(stripe_backend)) == 1
    services.invoices_retry_due(now=row.next_payment_attempt)
    assert _row(invoice.id).status == "paid"


def test_a_manual_payment_left_waiting_for_3d_secure_keeps_the_automatic_attempt_due(
    api, customer, save_card, stripe_backend, emails_on_commit, mailoutbox, exhausted
):
    """A payment by hand whose card asks for 3-D Secure has no outcome yet: the first automatic attempt stays due,
    finds the payment waiting for the payer and emails them the link (as for its own 3-D Secure request), and the
    merchant's final action still comes on the schedule's last day if nobody authenticates."""
    save_card("4000002500003155")
    invoice = _draft(api, customer, auto_advance=True)
    api.v1.invoices.finalize_invoice(invoice.id)
    with emails_on_commit(), pytest.raises(stripe.CardError):
        api.v1.invoices.pay(invoice.id)
    assert _row(invoice.id).next_payment_attempt is not None
    assert _failure_emails(mailoutbox, "payer@example.com") == []
    beat = timezone.now() + timedelta(minutes=1)
    with emails_on_commit():
        services.invoices_advance(now=beat)
    row = _row(invoice.id)
    assert (row.next_payment_attempt, row.dunning_ends_at) == (None, beat + timedelta(days=7))
    emails = _failure_emails(mailoutbox, "payer@example.com")
    assert len(emails) == 1
    assert "3-D Secure" in emails[0].body
    services.invoices_retry_due(now=beat + timedelta(days=7))
    assert exhausted == [(invoice.id, beat + timedelta(days=7))]
    assert len(processor_payment_intents(stripe_backend)) == 1  # never charged again
