"""A renewal declined: the subscription is past_due, dunning retries on the merchant's schedule (test clock time)
and emails the payer a link to the portal; a new card there pays at once and the subscription is active again;
without one, the merchant's final action (Settings → Failed payments) ends it."""

import re
from datetime import timedelta

import pytest
import stripe
from django.test import Client
from django.utils import timezone

from billing.hosted import framing
from billing.invoices import services as invoices
from billing.models import Invoice, PortalSession
from billing.payments import services as payments
from tests.billing.subscriptions.test_clocks import _advance, _clock_customer, ts
from tests.conftest import processor_payment_intents

DAY = 86400
START = ts(2027, 3, 1, 9)
RENEWAL = ts(2027, 4, 1, 9)


def _renewal_declined(api, card_token, monthly, emails_on_commit, mailoutbox):
    """A subscription paid with 4242…, whose customer's default card is then one that declines (…0341)."""
    clock, customer = _clock_customer(api, card_token, START)
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    assert sub.status == "active"
    declining = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4000000000000341")}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": declining.id}})
    _advance(api, clock, RENEWAL, emails_on_commit)
    sub = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "past_due"
    renewal = sub.latest_invoice
    assert (renewal.status, renewal.billing_reason, renewal.attempt_count) == ("open", "subscription_cycle", 1)
    assert renewal.next_payment_attempt == RENEWAL + DAY  # the default schedule: 1, 3, 5, 7 days
    return clock, customer, sub, renewal


def _dunning_emails(mailoutbox) -> list:
    return [m for m in mailoutbox if m.to == ["john@example.com"] and "failed" in m.subject]


def test_a_declined_renewal_is_retried_on_schedule_and_a_new_card_in_the_portal_pays_it(
    api, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox
):
    clock, _customer, sub, renewal = _renewal_declined(api, card_token, monthly, emails_on_commit, mailoutbox)
    assert len(_dunning_emails(mailoutbox)) == 1
    # The first retry, a day later on the clock: declined again, one more charge and one more email.
    _advance(api, clock, RENEWAL + DAY, emails_on_commit)
    retried = api.v1.invoices.retrieve(renewal.id)
    assert (retried.attempt_count, retried.next_payment_attempt) == (2, RENEWAL + 3 * DAY)
    emails = _dunning_emails(mailoutbox)
    assert len(emails) == 2
    assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
    charges = len(processor_payment_intents(stripe_backend))

    # The email's link opens the customer portal, where the payer gives 4242…: the invoice is paid at once.
    (link,) = re.findall(r"https?://\S+/portal/link/\S+", emails[-1].body)
    payer = Client()
    opened = payer.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert opened.status_code == 302
    session = PortalSession.objects.latest("pk")
    assert payer.get(opened["Location"]).status_code == 200
    with emails_on_commit():
        answer = payer.post(
            f"/portal/{session.token}/card",
            {"token": card_token("4242424242424242")},
            content_type="application/json",
            headers={framing.PAGE_TOKEN_HEADER: framing.page_token(session)},
        )
    assert answer.status_code == 200, answer.content
    paid = api.v1.invoices.retrieve(renewal.id)
    assert (paid.status, paid.amount_paid) == ("paid", 5000)
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"
    assert len(processor_payment_intents(stripe_backend)) == charges + 1
    # Nothing is retried any more: the clock's next retry day charges nothing.
    _advance(api, clock, RENEWAL + 3 * DAY, emails_on_commit)
    assert len(processor_payment_intents(stripe_backend)) == charges + 1


def test_a_past_due_subscription_canceled_is_charged_no_more_but_its_invoice_can_still_be_paid(
    api, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox
):
    """As at Stripe, which on a cancellation "stops automatic collection of all finalized invoices" of the
    subscription "so that the customer won't be charged again for the subscription": no retry on the schedule, no
    charge when the payer's card changes; the invoice stays open, and the payer may still pay it by hand."""
    clock, customer, sub, renewal = _renewal_declined(api, card_token, monthly, emails_on_commit, mailoutbox)
    charges = len(processor_payment_intents(stripe_backend))
    with emails_on_commit():
        canceled = api.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    stopped = api.v1.invoices.retrieve(renewal.id)
    assert (stopped.status, stopped.auto_advance, stopped.next_payment_attempt) == ("open", False, None)
    newest = api.v1.events.list(params={"type": "invoice.updated", "limit": 1}).data[0]
    assert newest.data.object.id == renewal.id
    assert (newest.data.object.auto_advance, newest.data.previous_attributes["auto_advance"]) == (False, True)
    # The schedule's retry days pass: nothing is charged.
    for day in (1, 3, 5, 7):
        _advance(api, clock, RENEWAL + day * DAY, emails_on_commit)
    assert len(processor_payment_intents(stripe_backend)) == charges
    # A new default card (which retries a subscription's past-due invoices at once) charges nothing either.
    good = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4242424242424242")}, "customer": customer.id}
    )
    with emails_on_commit():
        api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": good.id}})
    assert len(processor_payment_intents(stripe_backend)) == charges
    assert api.v1.invoices.retrieve(renewal.id).status == "open"
    # Paid by hand, it is paid.
    with emails_on_commit():
        paid = api.v1.invoices.pay(renewal.id)
    assert (paid.status, paid.amount_paid) == ("paid", 5000)
    assert len(processor_payment_intents(stripe_backend)) == charges + 1
    assert api.v1.subscriptions.retrieve(sub.id).status == "canceled"


@pytest.mark.parametrize(
    ("action", "status", "reason"),
    [("cancel", "canceled", "payment_failed"), ("unpaid", "unpaid", None), ("past_due", "past_due", None)],
)
def test_without_a_new_card_the_merchants_final_action_comes_after_the_last_retry(
    api, paying_shop, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox, action, status, reason
):
    invoices.dunning_settings_update(merchant=paying_shop.merchant, livemode=False, subscription_action=action)
    clock, customer, sub, renewal = _renewal_declined(api, card_token, monthly, emails_on_commit, mailoutbox)
    for day in (1, 3, 5):
        _advance(api, clock, RENEWAL + day * DAY, emails_on_commit)
        assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
    _advance(api, clock, RENEWAL + 7 * DAY, emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert ended.status == status
    assert ended.cancellation_details.reason == reason
    last = api.v1.invoices.retrieve(renewal.id)
    assert (last.status, last.attempt_count, last.next_payment_attempt) == ("open", 5, None)
    assert len(_dunning_emails(mailoutbox)) == 5
    # Five tries of the renewal (and the first invoice's charge): never more, whatever the clock does next.
    assert len(processor_payment_intents(stripe_backend)) == 6
    _advance(api, clock, RENEWAL + 20 * DAY, emails_on_commit)
    assert len(processor_payment_intents(stripe_backend)) == 6
    # The payer gives a new card at last: it pays the invoice of a subscription still there, never a canceled one's.
    good = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4242424242424242")}, "customer": customer.id}
    )
    with emails_on_commit():
        api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": good.id}})
    last = api.v1.invoices.retrieve(renewal.id)
    if action == "cancel":
        assert (last.status, last.auto_advance, len(processor_payment_intents(stripe_backend))) == ("open", False, 6)
    else:
        assert (last.status, len(processor_payment_intents(stripe_backend))) == ("paid", 7)


def test_a_renewal_declined_by_hand_before_its_automatic_charge_is_still_dunned_to_the_final_action(
    api, paying_shop, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox, monkeypatch
):
    """The renewal's worker dies before its charge: the invoice open, its first automatic attempt begun with it
    (counted, keyed) and never sent. Kassa cannot know that it was never sent, so a payment by hand meanwhile is
    refused (409) until the reconciler has asked the processor, a quarter of an hour later, and found no record of
    it. The merchant then charges it by hand (``pay``) first, declined. That decline is the first failure: the
    subscription is past_due, and dunning retries on the merchant's days from it until the final action, as for
    any renewal."""
    invoices.dunning_settings_update(merchant=paying_shop.merchant, livemode=False, subscription_action="cancel")
    clock, customer = _clock_customer(api, card_token, START)
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    declining = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4000000000000341")}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": declining.id}})
    with monkeypatch.context() as killed:  # the renewal commits, its worker dies before the charge
        killed.setattr(invoices, "invoice_attempt_automatically", lambda **kwargs: False)
        _advance(api, clock, RENEWAL, emails_on_commit)
    renewal = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]}).latest_invoice
    assert (renewal.status, renewal.attempt_count, renewal.next_payment_attempt) == ("open", 1, RENEWAL)
    with pytest.raises(stripe.APIError) as in_flight:
        api.v1.invoices.pay(renewal.id)
    assert (in_flight.value.http_status, in_flight.value.json_body["error"]["code"]) == (409, "payment_in_progress")
    payments.payments_reconcile(now=timezone.now() + timedelta(minutes=16))
    assert len(processor_payment_intents(stripe_backend)) == 1  # the first invoice's: the dead worker's never left
    with emails_on_commit(), pytest.raises(stripe.CardError):
        api.v1.invoices.pay(renewal.id)
    assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
    declined = api.v1.invoices.retrieve(renewal.id)
    assert (declined.attempt_count, declined.next_payment_attempt) == (1, RENEWAL + DAY)
    assert len(_dunning_emails(mailoutbox)) == 1
    _advance(api, clock, RENEWAL + 60, emails_on_commit)  # beat's next pass: the decline was the first attempt
    assert len(processor_payment_intents(stripe_backend)) == 2  # the first invoice's, the declined one
    for number, day in enumerate((1, 3, 5), start=2):
        _advance(api, clock, RENEWAL + day * DAY, emails_on_commit)
        assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
        assert api.v1.invoices.retrieve(renewal.id).attempt_count == number
    _advance(api, clock, RENEWAL + 7 * DAY, emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.cancellation_details.reason) == ("canceled", "payment_failed")
    assert len(_dunning_emails(mailoutbox)) == 5
    assert len(processor_payment_intents(stripe_backend)) == 6


def _emailed_renewal(api, card_token, monthly, emails_on_commit):
    """A send_invoice subscription (7 days to pay), its first invoice paid out of band, renewed on 1 April."""
    clock, customer = _clock_customer(api, card_token, START)
    sub = api.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": monthly.id}],
            "collection_method": "send_invoice",
            "days_until_due": 7,
        }
    )
    assert sub.status == "active"
    first = api.v1.invoices.retrieve(sub.latest_invoice)
    api.v1.invoices.pay(first.id, params={"paid_out_of_band": True})
    _advance(api, clock, RENEWAL, emails_on_commit)
    renewal = api.v1.subscriptions.retrieve(sub.id).latest_invoice
    assert renewal != first.id
    renewal = api.v1.invoices.retrieve(renewal)
    assert (renewal.status, renewal.due_date) == ("open", RENEWAL + 7 * DAY)
    return clock, sub, renewal


def test_an_emailed_subscription_is_past_due_once_its_invoice_is_unpaid_after_its_due_date(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    # As at Stripe: a send_invoice subscription "becomes past_due when its invoice is not paid by the due date", and
    # active again once its latest invoice is paid. With no deadline set (the default), it stays past due.
    clock, sub, renewal = _emailed_renewal(api, card_token, monthly, emails_on_commit)
    _advance(api, clock, RENEWAL + 7 * DAY - 60, emails_on_commit)  # due, not yet overdue
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"

    _advance(api, clock, RENEWAL + 8 * DAY, emails_on_commit)
    assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
    updated = api.v1.events.list(params={"type": "customer.subscription.updated", "limit": 1}).data[0]
    assert (updated.data.object["id"], updated.data.object["status"]) == (sub.id, "past_due")
    assert updated.data.previous_attributes["status"] == "active"
    assert processor_payment_intents(stripe_backend) == []  # emailed: never charged

    _advance(api, clock, RENEWAL + 29 * DAY, emails_on_commit)  # the day before the next renewal
    assert api.v1.invoices.retrieve(renewal.id).status == "open"
    assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"

    api.v1.invoices.pay(renewal.id, params={"paid_out_of_band": True})
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"


@pytest.mark.parametrize(("action", "status"), [("cancel", "canceled"), ("unpaid", "unpaid")])
def test_an_emailed_invoice_unpaid_the_merchants_days_after_its_due_date_gets_the_final_actions(
    api, paying_shop, card_token, monthly, stripe_backend, emails_on_commit, action, status
):
    # Stripe: "canceled or unpaid if it is still not paid by an additional deadline after that".
    invoices.dunning_settings_update(
        merchant=paying_shop.merchant,
        livemode=False,
        overdue_days=10,
        subscription_action=action,
        invoice_action="mark_uncollectible",
    )
    clock, sub, renewal = _emailed_renewal(api, card_token, monthly, emails_on_commit)
    _advance(api, clock, RENEWAL + 8 * DAY, emails_on_commit)
    assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
    _advance(api, clock, RENEWAL + 17 * DAY - 60, emails_on_commit)  # 10 days after the due date, less a minute
    assert api.v1.subscriptions.retrieve(sub.id).status == "past_due"
    assert api.v1.invoices.retrieve(renewal.id).status == "open"
    dashboard = Client()
    dashboard.force_login(paying_shop.owner)  # the merchant's invoice page says what comes next, and then what came
    page = f"/admin/billing/invoice/{Invoice.objects.get(public_id=renewal.id).pk}/change/"
    assert "Final actions if still unpaid" in dashboard.get(page).text

    _advance(api, clock, RENEWAL + 18 * DAY, emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert ended.status == status
    if action == "cancel":
        assert ended.cancellation_details.reason == "payment_failed"
    assert api.v1.invoices.retrieve(renewal.id).status == "uncollectible"
    assert processor_payment_intents(stripe_backend) == []
    assert "Final actions: unpaid after the due date" in dashboard.get(page).text


@pytest.mark.parametrize(("days", "before", "status", "after"), [(30, 36, "past_due", 38), (1, 7, "active", 8)])
def test_an_emailed_invoices_deadline_counts_from_its_own_due_date_past_the_next_renewal_and_to_the_day(
    api, paying_shop, card_token, monthly, stripe_backend, emails_on_commit, days, before, status, after
):
    # Due 7 days after the renewal of 1 April: 30 days after that is past the next renewal (1 May), whose invoice is
    # then the latest, and the subscription, past due, still ends; one day after it ends it that day, even when the
    # clock's step that finds the invoice overdue is that day (at its due date, not yet overdue: still active).
    invoices.dunning_settings_update(
        merchant=paying_shop.merchant, livemode=False, overdue_days=days, subscription_action="cancel"
    )
    clock, sub, renewal = _emailed_renewal(api, card_token, monthly, emails_on_commit)
    _advance(api, clock, RENEWAL + before * DAY, emails_on_commit)
    assert api.v1.subscriptions.retrieve(sub.id).status == status
    _advance(api, clock, RENEWAL + after * DAY, emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", RENEWAL + (7 + days) * DAY)
    if days == 30:
        assert ended.latest_invoice != renewal.id  # the next period's invoice was made meanwhile
