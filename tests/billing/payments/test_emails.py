"""Receipts to payers and notices to members, in Django's test outbox (billing/payments/emails.py).

Payments are made as payers and merchants make them (the hosted page, the
services the API calls) against localstripe; the tasks queued on commit run
through Celery, eagerly.
"""

import contextlib
import json
import re
from datetime import timedelta
from smtplib import SMTPServerDisconnected

import celery.app.task
import kombu.exceptions
import pytest
from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format

from billing.catalogue import services as catalogue
from billing.checkout import services as checkout
from billing.hosted import framing
from billing.models import PaymentIntent
from billing.payments import emails as payment_emails
from billing.payments import services as payments
from billing.payments import tasks
from kassa import celery as kassa_celery
from kassa import gateway
from kassa.errors import ProcessorError
from merchants import services as merchant_services
from merchants.emails import email_task_queue
from merchants.emails import email_tasks_sweep as sweep
from merchants.models import EmailSent, EmailTaskOwed, Membership
from tests import factories

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}


class BrokenMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("the mail server went away")


class FussyMailServer(locmem.EmailBackend):
    """Refuses every message to ``refused@example.com`` (the mail server's error); delivers the others."""

    def send_messages(self, email_messages):
        if any("refused@example.com" in message.to for message in email_messages):
            raise SMTPServerDisconnected("the mail server went away")
        return super().send_messages(email_messages)


@pytest.fixture
def shop_link(paying_shop):
    m = paying_shop.merchant
    merchant_services.merchant_update(merchant=m, support_email="help@shop.test")
    product = catalogue.product_create(merchant=m, livemode=False, name="Green tea")
    price = catalogue.price_create(merchant=m, livemode=False, product=product, currency="eur", unit_amount=1250)
    return checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 2}])


def pay(client, link, token, *, email="payer@example.com", language="en"):
    """The payer on the hosted page, in ``language``: the page's pay call, as checkout.js makes it."""
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    headers = {
        "HTTP_X_KASSA_PAGE_TOKEN": framing.page_token(session),
        "HTTP_ORIGIN": "http://testserver",
        **(FRENCH if language == "fr" else {}),
    }
    body = {"token": token, "email": email, "name": "Ada"}
    with translation.override(language):  # the page's language during the call (the hosted pages activate it)
        return client.post(
            f"/pay/session/{session.public_id}/pay", json.dumps(body), content_type="application/json", **headers
        )


def parts(message) -> tuple[str, str]:
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return message.body, html


def to(outbox, address):
    return [m for m in outbox if m.to == [address]]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Your receipt from Shop", "Thank you for your payment to Shop.", "€25.00", "Green tea", "\u00d7 2"]),
        ("fr", ["Votre reçu de Shop", "Merci pour votre paiement à Shop.", "25,00\xa0€", "Green tea", "\u00d7 2"]),
    ],
)
def test_a_payer_gets_a_receipt_in_the_pages_language(
    client, shop_link, card_token, emails_on_commit, mailoutbox, language, words
):
    with emails_on_commit():
        assert pay(client, shop_link, card_token(), language=language).status_code == 200
    intent = PaymentIntent.objects.get()
    assert intent.receipt_language == language
    (receipt,) = to(mailoutbox, "payer@example.com")
    text, html = parts(receipt)
    assert all(word in receipt.subject + text for word in words[:1]), receipt.subject
    for body in (text, html):
        for word in words[1:]:
            assert word in body, (word, body)
        assert intent.public_id in body
        assert "help@shop.test" in body  # the merchant's support email
        assert "Visa •••• 4242" in body
        assert "424242424242" not in body  # never more of the card than its last four
        assert "secret" not in body.lower()
    assert receipt.reply_to == ["help@shop.test"]
    assert receipt.subject.startswith("[Test")  # a test-mode payment says so
    # The date as the reader writes dates.
    paid_at = intent.timeline.get(kind="succeeded").created
    with translation.override(language):
        assert date_format(paid_at, "DATETIME_FORMAT") in text


def test_the_owner_is_told_of_the_payment_and_other_merchants_members_are_not(
    client, shop_link, card_token, emails_on_commit, mailoutbox, other_shop
):
    m = shop_link.merchant
    owner = Membership.objects.get(merchant=m, role="owner")
    assert (owner.notify_payments, owner.notify_failures) == (True, True)  # on for a new merchant's owner
    quiet = factories.staff(m, "viewer", email="quiet@shop.test")  # notices are off for other members
    french = Membership.objects.get(user=factories.staff(m, "admin", email="admin@shop.test"), merchant=m)
    merchant_services.membership_email_settings_set(
        membership=french, notify_payments=True, notify_failures=False, language="fr"
    )
    # A member of another merchant who asked for every notice (there).
    outsider = Membership.objects.get(merchant=other_shop.merchant, role="owner")
    merchant_services.membership_add(merchant=other_shop.merchant, email="quiet@shop.test", role="owner")
    Membership.objects.filter(merchant=other_shop.merchant).update(notify_payments=True, notify_failures=True)

    with emails_on_commit():
        assert pay(client, shop_link, card_token()).status_code == 200
    intent = PaymentIntent.objects.get()
    (notice,) = to(mailoutbox, [owner.user.email][0])
    text, html = parts(notice)
    assert notice.subject == "[Test] You received a payment of €25.00 (Shop)"
    for body in (text, html):
        assert "Shop received a payment of €25.00." in body
        assert intent.public_id in body
        assert "payer@example.com" in body
        assert "help@shop.test" in body
        assert f"/admin/billing/paymentintent/{intent.pk}/change/" in body
        assert "/admin/email-settings/" in body
    (french_notice,) = to(mailoutbox, ["admin@shop.test"][0])
    assert french_notice.subject == "[Test] Vous avez reçu un paiement de 25,00\xa0€ (Shop)"
    assert "Shop a reçu un paiement de 25,00\xa0€." in parts(french_notice)[1]
    assert to(mailoutbox, quiet.email) == []
    assert to(mailoutbox, outsider.user.email) == []
    assert {tuple(m.to) for m in mailoutbox} == {("payer@example.com",), (owner.user.email,), ("admin@shop.test",)}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_declined_payment_tells_members_who_asked_once(
    client, shop_link, card_token, emails_on_commit, mailoutbox, other_shop, language
):
    m = shop_link.merchant
    owner = Membership.objects.get(merchant=m, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=False, notify_failures=True, language=language
    )
    Membership.objects.filter(merchant=other_shop.merchant).update(notify_failures=True)
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=shop_link)
    headers = {"HTTP_X_KASSA_PAGE_TOKEN": framing.page_token(session), "HTTP_ORIGIN": "http://testserver"}
    url = f"/pay/session/{session.public_id}/pay"
    with emails_on_commit():
        for number in ("4000000000000002", "4000000000000002"):  # declined twice: one notice
            body = json.dumps({"token": card_token(number), "email": "payer@example.com"})
            assert client.post(url, body, content_type="application/json", **headers).status_code == 402
    intent = PaymentIntent.objects.get()
    assert len(mailoutbox) == 1  # no receipt for a failure, one notice, nobody at the other merchant
    (notice,) = mailoutbox
    assert notice.to == [owner.user.email]
    text, html = parts(notice)
    expected = {
        "en": (
            "[Test] A payment of €25.00 failed (Shop)",
            "A payment of €25.00 to Shop failed.",
            "The card was declined.",
        ),
        "fr": (
            "[Test] Un paiement de 25,00\xa0€ a échoué (Shop)",
            "Un paiement de 25,00\xa0€ à Shop a échoué.",
            "La carte a été refusée.",
        ),
    }[language]
    assert notice.subject == expected[0]
    for body in (text, html):
        assert expected[1] in body
        assert intent.public_id in body
        assert expected[2] in body  # why, in the member's language
        assert "help@shop.test" in body


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_refund_sends_a_refund_receipt(client, shop_link, card_token, emails_on_commit, mailoutbox, language):
    with emails_on_commit():
        pay(client, shop_link, card_token(), language=language)
    intent = PaymentIntent.objects.get()
    mailoutbox.clear()
    with emails_on_commit():
        refund = payments.refund_create(payment_intent=intent, amount=500)
    (receipt,) = to(mailoutbox, "payer@example.com")
    text, html = parts(receipt)
    expected = {
        "en": ("[Test] Your refund from Shop", "Shop refunded €5.00 to you.", "Original payment", "€25.00"),
        "fr": (
            "[Test] Votre remboursement de Shop",
            "Shop vous a remboursé 5,00\xa0€.",
            "Paiement d\u2019origine",
            "25,00",
        ),
    }[language]
    assert receipt.subject == expected[0]
    for body in (text, html):
        for word in expected[1:]:
            assert word in body, (word, body)
        assert refund.public_id in body
        assert intent.public_id in body
        assert "help@shop.test" in body
        assert "4242" in body
    # Members get no email for a refund they made themselves.
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_refund_the_bank_returns_after_it_succeeded_tells_members_who_asked_once(
    client, shop_link, card_token, emails_on_commit, mailoutbox, other_shop, monkeypatch, language
):
    """localstripe never fails a refund once made; Stripe does, days later, with a ``refund.failed`` webhook on which
    Kassa reads the refund again: that read is stood in for at the gateway boundary. The payer holds a receipt for
    money that never reached them; the members who asked to be told of failures learn it, in their language."""
    m = shop_link.merchant
    owner = Membership.objects.get(merchant=m, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=False, notify_failures=True, language=language
    )
    viewer = factories.staff(m, role="viewer")  # asked for nothing: not told
    Membership.objects.filter(merchant=other_shop.merchant).update(notify_failures=True)
    with emails_on_commit():
        pay(client, shop_link, card_token())
    mailoutbox.clear()
    with emails_on_commit():
        refund = payments.refund_create(payment_intent=PaymentIntent.objects.get(), amount=500)
    intent = refund.payment_intent
    assert [message.to for message in mailoutbox] == [["payer@example.com"]]  # the refund receipt alone
    mailoutbox.clear()
    returned = gateway.ProcessorRefund(id=refund.processor_id, status="failed", failure_reason="lost_or_stolen_card")
    monkeypatch.setattr(gateway, "refund_retrieve", lambda credential, processor_id: returned)
    for _webhook in range(2):  # Stripe retries its webhooks: told once
        with emails_on_commit():
            payments.refund_sync(merchant=m, livemode=False, processor_refund_id=refund.processor_id)
    (notice,) = mailoutbox
    assert notice.to == [owner.user.email] != [viewer.email]
    expected = {
        "en": (
            "[Test] A refund of €5.00 failed (Shop)",
            "A refund of €5.00 by Shop failed: the money did not reach the payer.",
            "The card was reported lost or stolen.",
            "€25.00",
        ),
        "fr": (
            "[Test] Un remboursement de 5,00\xa0€ a échoué (Shop)",
            "Un remboursement de 5,00\xa0€ par Shop a échoué : l\u2019argent n\u2019est pas parvenu au payeur.",
            "La carte a été déclarée perdue ou volée.",
            "25,00\xa0€",
        ),
    }[language]
    assert notice.subject == expected[0]
    for body in parts(notice):
        for word in (*expected[1:], refund.public_id, intent.public_id, "payer@example.com"):
            assert word in body, (word, body)
    assert payments.refundable_amount(intent) == 2500  # what the notice says: it can be refunded again


def test_a_refund_canceled_after_it_succeeded_tells_members_too(
    client, shop_link, card_token, emails_on_commit, mailoutbox, monkeypatch
):
    with emails_on_commit():
        pay(client, shop_link, card_token())
        refund = payments.refund_create(payment_intent=PaymentIntent.objects.get(), amount=500)
    mailoutbox.clear()
    canceled = gateway.ProcessorRefund(id=refund.processor_id, status="canceled", failure_reason="merchant_request")
    monkeypatch.setattr(gateway, "refund_retrieve", lambda credential, processor_id: canceled)
    with emails_on_commit():
        payments.refund_sync(merchant=shop_link.merchant, livemode=False, processor_refund_id=refund.processor_id)
    (notice,) = mailoutbox
    assert "A refund of €5.00 failed (Shop)" in notice.subject
    assert "The refund was canceled at the merchant's request." in notice.body


def test_a_refund_the_processor_never_made_tells_members_its_reason_in_the_processors_words(
    client, shop_link, card_token, emails_on_commit, mailoutbox, monkeypatch
):
    """A refund whose answer never came and that the processor has no record of: failed by the reconciler, with
    nothing refunded; a reason Kassa has no words of its own for is shown as it was recorded."""
    with emails_on_commit():
        pay(client, shop_link, card_token())
    intent = PaymentIntent.objects.get()
    mailoutbox.clear()

    def lost(*args, **kwargs):
        raise ProcessorError("Timed out waiting for the processor.", code="processor_unavailable")

    monkeypatch.setattr(gateway, "refund_create", lost)
    with pytest.raises(ProcessorError), emails_on_commit():
        payments.refund_create(payment_intent=intent, amount=700)
    assert mailoutbox == []  # pending: nothing to tell yet
    with emails_on_commit():
        payments.payments_reconcile(now=timezone.now() + timedelta(minutes=20))
    (notice,) = mailoutbox
    assert notice.to == [Membership.objects.get(merchant=intent.merchant, role="owner").user.email]
    assert "A refund of €7.00 failed (Shop)" in notice.subject
    assert payments.REFUND_NOT_MADE in notice.body


def test_a_refund_the_processor_never_made_is_told_in_the_members_language(
    client, shop_link, card_token, emails_on_commit, mailoutbox, monkeypatch
):
    owner = Membership.objects.get(merchant=shop_link.merchant, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=False, notify_failures=True, language="fr"
    )
    with emails_on_commit():
        pay(client, shop_link, card_token())
    intent = PaymentIntent.objects.get()

    def lost(*args, **kwargs):
        raise ProcessorError("Timed out waiting for the processor.", code="processor_unavailable")

    monkeypatch.setattr(gateway, "refund_create", lost)
    with pytest.raises(ProcessorError), emails_on_commit():
        payments.refund_create(payment_intent=intent, amount=700)
    mailoutbox.clear()
    with emails_on_commit():
        payments.payments_reconcile(now=timezone.now() + timedelta(minutes=20))
    (notice,) = mailoutbox
    assert "Un remboursement de 7,00\xa0€ a échoué (Shop)" in notice.subject
    assert "Le prestataire de paiement n\u2019a aucune trace de ce remboursement" in notice.body


@pytest.fixture
def broker_down(monkeypatch):
    """``with broker_down():`` the broker refuses every task, as Redis does when it is down (kombu's error)."""

    def refused(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    @contextlib.contextmanager
    def down():
        with monkeypatch.context() as patched:
            patched.setattr(celery.app.task.Task, "apply_async", refused)
            patched.setattr(kassa_celery.app, "send_task", refused)
            yield

    return down


def test_a_receipt_the_broker_could_not_take_is_owed_and_sent_by_the_sweeper_once(
    client, shop_link, card_token, emails_on_commit, mailoutbox, broker_down, caplog
):
    with emails_on_commit():
        pay(client, shop_link, card_token())
    assert not EmailTaskOwed.objects.exists()  # the payment's emails ran to their end: nothing owed
    intent = PaymentIntent.objects.get()
    mailoutbox.clear()
    with broker_down(), emails_on_commit():
        refund = payments.refund_create(payment_intent=intent, amount=500)
    assert refund.status == "succeeded"  # the refund stands; its receipt could not be queued
    assert mailoutbox == []
    (owed,) = EmailTaskOwed.objects.all()
    assert (owed.task, owed.args) == ("billing.tasks.refund_emails_send", [refund.pk])

    now = timezone.now()
    assert sweep(now=now) == 0  # just queued (as far as Kassa knows): not yet
    with broker_down():  # still down at the next sweep: it stays owed, and the sweep says so
        assert sweep(now=now + timedelta(minutes=11)) == 0
    assert "Could not queue the email task billing.tasks.refund_emails_send" in caplog.text
    assert sweep(now=now + timedelta(minutes=12)) == 1
    (receipt,) = to(mailoutbox, "payer@example.com")
    assert refund.public_id in receipt.body
    assert not EmailTaskOwed.objects.exists()  # it ran: no longer owed
    assert sweep(now=now + timedelta(minutes=30)) == 0
    assert len(mailoutbox) == 1


def test_an_email_task_that_never_ran_to_its_end_is_given_up_after_three_days(
    client, shop_link, card_token, emails_on_commit, mailoutbox, broker_down, caplog
):
    with broker_down(), emails_on_commit():
        pay(client, shop_link, card_token())
    assert mailoutbox == []
    (owed,) = EmailTaskOwed.objects.all()
    assert owed.task == "billing.tasks.payment_emails_send"
    with broker_down():
        assert sweep(now=owed.created + timedelta(days=2)) == 0
    assert EmailTaskOwed.objects.exists()
    assert sweep(now=owed.created + timedelta(days=3, seconds=1)) == 0
    assert not EmailTaskOwed.objects.exists()
    assert mailoutbox == []
    assert "Email task billing.tasks.payment_emails_send" in caplog.text
    assert "given up" in caplog.text


def test_a_batch_whose_emails_partly_failed_stays_owed_for_those_only_and_the_sweeper_backs_off(
    client, shop_link, card_token, emails_on_commit, mailoutbox, settings
):
    """A renewal run's emails task (payment_emails_send_many) whose mail server refused one payer: the task retries
    those alone (its own five retries, run in place here), and what stays owed is that retry, not the batch. The
    sweeper then queues it again after 10 minutes, after 20 more, after 40 more…: a task that keeps failing is not
    run again every sweep."""
    assert pay(client, shop_link, card_token(), email="fine@example.com").status_code == 200
    assert pay(client, shop_link, card_token(), email="refused@example.com").status_code == 200
    fine, refused = PaymentIntent.objects.order_by("pk")
    mailoutbox.clear()
    EmailTaskOwed.objects.all().delete()  # the pay page's own, single-payment tasks (not run here)
    settings.EMAIL_BACKEND = "tests.billing.payments.test_emails.FussyMailServer"
    settings.KASSA_EMAIL_REQUEUE_SECONDS = 600  # production's (the tests' own is seconds)
    outcomes = [[fine.pk, "succeeded"], [refused.pk, "succeeded"]]
    with emails_on_commit(), transaction.atomic():
        email_task_queue("billing.tasks.payment_emails_send_many", outcomes)
    assert len(to(mailoutbox, "fine@example.com")) == 1
    assert to(mailoutbox, "refused@example.com") == []
    (owed,) = EmailTaskOwed.objects.all()
    assert owed.args == [[[refused.pk, "succeeded"]]]  # the retry's, not the batch's

    start = owed.queued_at
    assert sweep(now=start + timedelta(minutes=11)) == 1  # still refused: stays owed, and waits twice as long
    assert sweep(now=start + timedelta(minutes=22)) == 0
    assert sweep(now=start + timedelta(minutes=32)) == 1
    assert sweep(now=start + timedelta(minutes=62)) == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert sweep(now=start + timedelta(minutes=73)) == 1
    assert len(to(mailoutbox, "refused@example.com")) == 1
    assert len(to(mailoutbox, "fine@example.com")) == 1  # sent once
    assert not EmailTaskOwed.objects.exists()


def test_no_receipt_when_the_merchant_switched_them_off_or_the_payer_gave_no_email(
    client, shop_link, card_token, emails_on_commit, mailoutbox
):
    m = merchant_services.merchant_update(merchant=shop_link.merchant, receipts_enabled=False)
    with emails_on_commit():
        pay(client, shop_link, card_token())
        payments.refund_create(payment_intent=PaymentIntent.objects.get())
    assert to(mailoutbox, "payer@example.com") == []
    assert len(mailoutbox) == 1  # the owner's notice still goes
    # Receipts on, but a payment made through the API without receipt_email: nobody to send it to.
    merchant_services.merchant_update(merchant=m, receipts_enabled=True)
    mailoutbox.clear()
    with emails_on_commit():
        factories.paid_payment(m, card_token)
    assert [message.to for message in mailoutbox] == [[Membership.objects.get(merchant=m).user.email]]


def test_an_api_payment_with_receipt_email_gets_an_english_receipt(
    paying_shop, card_token, emails_on_commit, mailoutbox
):
    m = paying_shop.merchant
    customer = catalogue.customer_create(merchant=m, livemode=False, email="c@example.com")
    card = factories.saved_card(customer, card_token)
    with emails_on_commit():
        intent = payments.payment_intent_create_and_confirm(
            now=timezone.now(),
            merchant=m,
            livemode=False,
            amount=1999,
            currency="usd",
            customer=customer,
            payment_method=card,
            description="Annual plan",
            receipt_email="api-payer@example.com",
        )
    (receipt,) = to(mailoutbox, "api-payer@example.com")
    text, html = parts(receipt)
    assert receipt.subject == "[Test] Your receipt from Shop"
    for body in (text, html):
        for word in ("$19.99", "Annual plan", intent.public_id):
            assert word in body


def test_a_success_applied_twice_sends_one_receipt(client, shop_link, card_token, emails_on_commit, mailoutbox):
    """The page records the success; Stripe's webhook then reports it again; a retried task runs again."""
    with emails_on_commit():
        pay(client, shop_link, card_token())
        intent = PaymentIntent.objects.get()
        payments.payment_intent_sync(
            merchant=intent.merchant, livemode=False, processor_payment_intent_id=intent.processor_id
        )
        tasks.payment_emails_send.delay(intent.pk, "succeeded")
    assert len(to(mailoutbox, "payer@example.com")) == 1
    assert len(mailoutbox) == 2  # the receipt and the owner's notice, once each
    assert EmailSent.objects.filter(key=f"receipt:{intent.public_id}", status="sent").count() == 1


def test_a_broken_mail_server_does_not_fail_the_payment_and_a_retry_sends(
    client, shop_link, card_token, emails_on_commit, mailoutbox, settings
):
    settings.EMAIL_BACKEND = "tests.billing.payments.test_emails.BrokenMailServer"
    with emails_on_commit():
        answer = pay(client, shop_link, card_token())
    assert answer.status_code == 200
    assert answer.json()["status"] == "succeeded"
    intent = PaymentIntent.objects.get()
    assert intent.status == "succeeded"
    assert not EmailSent.objects.exists()  # nothing claimed: the next try may send
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with emails_on_commit():
        tasks.payment_emails_send.delay(intent.pk, "succeeded")
    assert len(to(mailoutbox, "payer@example.com")) == 1


def test_the_texts_are_not_html_escaped(client, shop_link, card_token, emails_on_commit, mailoutbox):
    merchant_services.merchant_update(merchant=shop_link.merchant, name="Ben & Jerry's")
    with emails_on_commit():
        pay(client, shop_link, card_token())
    receipt = to(mailoutbox, "payer@example.com")[0]
    assert "Ben & Jerry's" in receipt.subject
    assert "Ben & Jerry's" in receipt.body
    assert "Ben &amp; Jerry&#x27;s" in parts(receipt)[1]
    assert not re.search(r"&(amp|#x27);", receipt.body)


def test_a_failure_notice_whose_payment_succeeded_meanwhile_is_not_sent(
    client, shop_link, card_token, emails_on_commit, mailoutbox, django_capture_on_commit_callbacks
):
    """The failure's task runs late (a busy worker): by then the payer paid, so members hear of the payment only."""
    Membership.objects.filter(merchant=shop_link.merchant).update(notify_failures=True)
    with django_capture_on_commit_callbacks(execute=False) as late:  # the failure's task, not run yet
        pay(client, shop_link, card_token("4000000000000002"))
    with emails_on_commit():
        session = PaymentIntent.objects.get().checkout_session
        headers = {"HTTP_X_KASSA_PAGE_TOKEN": framing.page_token(session), "HTTP_ORIGIN": "http://testserver"}
        body = json.dumps({"token": card_token(), "email": "payer@example.com"})
        client.post(f"/pay/session/{session.public_id}/pay", body, content_type="application/json", **headers)
    assert PaymentIntent.objects.get().status == "succeeded"
    sent = len(mailoutbox)
    with emails_on_commit():
        for callback in late:
            callback()
    assert len(mailoutbox) == sent
    assert not [m for m in mailoutbox if "failed" in m.subject]


def test_a_payment_nobody_is_to_be_emailed_about_queues_no_email_task(
    paying_shop, card_token, emails_on_commit, mailoutbox, monkeypatch
):
    """A merchant who sends no receipts and whose members asked for no notices: its payments queue no email task
    (a renewal day queued one a renewal, each reading the payment again to send nothing). The member who asks
    for notices is told of the next payment."""
    from billing.payments import emails

    sent = []
    of = emails.payment_emails_of
    monkeypatch.setattr(emails, "payment_emails_of", lambda **kw: sent.append(kw["outcome"]) or of(**kw))
    m = merchant_services.merchant_update(merchant=paying_shop.merchant, receipts_enabled=False)
    owner = Membership.objects.get(merchant=m, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=False, notify_failures=False, language="en"
    )
    with emails_on_commit():
        factories.paid_payment(m, card_token)
    assert (sent, mailoutbox) == ([], [])
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=True, notify_failures=False, language="en"
    )
    with emails_on_commit():
        intent = factories.paid_payment(m, card_token)
    assert sent == ["succeeded"]
    (notice,) = mailoutbox
    assert notice.to == [owner.user.email]
    assert intent.public_id in notice.body


def test_a_batch_of_payments_emails_each_its_own_items_and_times_reading_them_once_for_all(
    client, shop_link, card_token, mailoutbox
):
    """A renewal run's payments are emailed by one task (payment_emails_send_many): each receipt lists what its own
    payer bought and when its own payment succeeded, each failure notice when its own attempt failed, and the
    task reads the sessions' items and the payments' times for all of them together, not once a payment."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    m = shop_link.merchant
    mug = catalogue.product_create(merchant=m, livemode=False, name="Blue mug")
    price = catalogue.price_create(merchant=m, livemode=False, product=mug, currency="eur", unit_amount=900)
    mug_link = checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 3}])
    # Without emails_on_commit nothing the payments queue runs: the task below is the only sender.
    assert pay(client, shop_link, card_token(), email="tea@example.com").status_code == 200
    assert pay(client, mug_link, card_token(), email="mug@example.com").status_code == 200
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=mug_link)
    headers = {"HTTP_X_KASSA_PAGE_TOKEN": framing.page_token(session), "HTTP_ORIGIN": "http://testserver"}
    body = json.dumps({"token": card_token("4000000000000002"), "email": "declined@example.com"})
    url = f"/pay/session/{session.public_id}/pay"
    assert client.post(url, body, content_type="application/json", **headers).status_code == 402
    tea, mug_paid, declined = PaymentIntent.objects.order_by("pk")
    assert mailoutbox == []
    # Each payment's moment, set apart (a day each), so that every email must show its own.
    moments = {}
    for n, (intent, kind) in enumerate([(tea, "succeeded"), (mug_paid, "succeeded"), (declined, "payment_failed")]):
        moments[intent.pk] = timezone.now().replace(year=2026, month=3, day=4 + n, hour=10, minute=15 + n)
        intent.timeline.filter(kind=kind).update(created=moments[intent.pk])
    outcomes = [[tea.pk, "succeeded"], [mug_paid.pk, "succeeded"], [declined.pk, "failed"]]

    with CaptureQueriesContext(connection) as queries:
        # 2 receipts; the owner's notices: one of the two payments, one of the failure
        assert tasks.payment_emails_send_many.apply(args=[outcomes]).get() == 4

    def shown(intent):
        return date_format(timezone.localtime(moments[intent.pk]), "DATETIME_FORMAT")

    (tea_receipt,) = to(mailoutbox, "tea@example.com")
    (mug_receipt,) = to(mailoutbox, "mug@example.com")
    assert "Green tea" in tea_receipt.body
    assert "\u00d7 2" in tea_receipt.body
    assert "Blue mug" not in tea_receipt.body
    assert "Blue mug" in mug_receipt.body
    assert "\u00d7 3" in mug_receipt.body
    assert "Green tea" not in mug_receipt.body
    assert shown(tea) in tea_receipt.body
    assert shown(mug_paid) in mug_receipt.body
    owner = Membership.objects.get(merchant=m, role="owner").user.email
    notices = {m.subject: m.body for m in to(mailoutbox, owner)}
    assert len(notices) == 2
    (failure,) = [body for subject, body in notices.items() if "failed" in subject]
    assert declined.public_id in failure
    assert shown(declined) in failure
    (both,) = [body for subject, body in notices.items() if subject.startswith("[Test] You received 2 payments")]
    for intent in (tea, mug_paid):  # each with its own moment, amount and payer
        (row,) = [line for line in both.splitlines() if intent.public_id in line]
        assert shown(intent) in row
        assert intent.receipt_email in row
    assert declined.public_id not in both
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "billing_checkoutsession"' in sql for sql in reads) == 1
    assert sum('FROM "billing_paymenttimelineentry"' in sql for sql in reads) == 1


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_batchs_payments_are_one_notice_to_each_member_in_their_language_each_payment_told_of_once(
    paying_shop, other_shop, card_token, mailoutbox, language
):
    """A batch's payments (a renewal run's, one task) are one notice to each member who asked, in the member's
    language: each payment listed once, with its amount and id, and the total by currency. A payment told of
    already (its own notice went first) is left out; with one payment left, the member gets that payment's own
    notice; with none, nothing. Another merchant's members hear of none of it."""
    m = merchant_services.merchant_update(merchant=paying_shop.merchant, receipts_enabled=False)
    owner = Membership.objects.get(merchant=m, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=True, notify_failures=False, language=language
    )
    Membership.objects.filter(merchant=other_shop.merchant).update(notify_payments=True)
    eur = [factories.paid_payment(m, card_token, amount=amount) for amount in (2000, 1250)]
    usd = factories.paid_payment(m, card_token, amount=990, currency="usd")
    alone = factories.paid_payment(m, card_token, amount=500)
    mailoutbox.clear()
    # The last one's own notice first (its own task): the batch must not tell of it again.
    assert tasks.payment_emails_send_many.apply(args=[[[alone.pk, "succeeded"]]]).get() == 1
    (own,) = mailoutbox
    # The first payment's outcome twice (recorded twice): told of once.
    batch = [[intent.pk, "succeeded"] for intent in (eur[0], *eur, usd, alone)]
    assert tasks.payment_emails_send_many.apply(args=[batch]).get() == 1
    assert [message.to for message in mailoutbox] == [[owner.user.email]] * 2
    notice = mailoutbox[1]
    text, html = parts(notice)
    expected = {
        "en": ("[Test] You received 3 payments totalling €32.50, $9.90 (Shop)", "Shop received 3 payments"),
        "fr": ("[Test] Vous avez reçu 3 paiements, 32,50\xa0€, 9,90\xa0$US au total (Shop)", "Shop a reçu 3 paiements"),
    }[language]
    assert notice.subject == expected[0]
    for body in (text, html):
        assert expected[1] in body
        for intent in (*eur, usd):
            assert body.count(intent.public_id) == 1
            assert f"/admin/billing/paymentintent/{intent.pk}/change/" in body  # the payment in the dashboard
        assert alone.public_id not in body
    for amount in {"en": ("€20.00", "€12.50", "$9.90"), "fr": ("20,00\xa0€", "12,50\xa0€", "9,90\xa0$US")}[language]:
        assert amount in text
    assert alone.public_id in own.body
    # Again (a retried task): nothing; one payment not yet told of: its own notice.
    assert tasks.payment_emails_send_many.apply(args=[batch]).get() == 0
    late = factories.paid_payment(m, card_token, amount=700)
    mailoutbox.clear()
    assert tasks.payment_emails_send_many.apply(args=[[*batch, [late.pk, "succeeded"]]]).get() == 1
    (single,) = mailoutbox
    assert late.public_id in single.body
    assert (
        single.subject
        == {
            "en": "[Test] You received a payment of €7.00 (Shop)",
            "fr": "[Test] Vous avez reçu un paiement de 7,00\xa0€ (Shop)",
        }[language]
    )
    claimed = EmailSent.objects.filter(key__startswith="notice.payment_succeeded:", merchant=m)
    assert claimed.count() == 5
    assert set(claimed.values_list("status", flat=True)) == {"sent"}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_notice_of_more_payments_than_it_lists_says_how_many_more_and_counts_and_claims_them_all(
    paying_shop, card_token, mailoutbox, language, monkeypatch
):
    """A notice of several payments lists the first ``DIGEST_ROWS`` (here 2: the rows are the same at 25), says how
    many more there are with the link to the dashboard's payments, and its count and total are of all of them; every
    one is claimed, so none is told of again."""
    monkeypatch.setattr(payment_emails, "DIGEST_ROWS", 2)
    m = merchant_services.merchant_update(merchant=paying_shop.merchant, receipts_enabled=False)
    owner = Membership.objects.get(merchant=m, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=True, notify_failures=False, language=language
    )
    paid = [factories.paid_payment(m, card_token, amount=amount) for amount in (1000, 2000, 3000, 4000, 5000)]
    mailoutbox.clear()
    batch = [[intent.pk, "succeeded"] for intent in paid]
    assert tasks.payment_emails_send_many.apply(args=[batch]).get() == 1
    (notice,) = mailoutbox
    expected = {
        "en": ("You received 5 payments totalling €150.00", "And 3 more payments, in your dashboard."),
        "fr": ("Vous avez reçu 5 paiements, 150,00\xa0€ au total", "Et 3 autres paiements, dans votre tableau de bord"),
    }[language]
    assert expected[0] in notice.subject
    for body in parts(notice):
        assert expected[1] in body
        assert [body.count(intent.public_id) for intent in paid] == [1, 1, 0, 0, 0]
        assert '/admin/billing/paymentintent/"' in body or "/admin/billing/paymentintent/\n" in body
    claimed = EmailSent.objects.filter(key__startswith="notice.payment_succeeded:", merchant=m, status="sent")
    assert sorted(claimed.values_list("key", flat=True)) == sorted(
        f"notice.payment_succeeded:{intent.public_id}:member:{owner.pk}" for intent in paid
    )
    assert tasks.payment_emails_send_many.apply(args=[batch]).get() == 0


def test_a_batchs_failed_payments_are_one_failure_notice_listing_each_with_its_reason(
    client, shop_link, card_token, mailoutbox
):
    """Two payments declined in one batch: the member who asked to hear of failures gets one notice listing both,
    each with the processor's reason, and their total."""
    m = shop_link.merchant
    owner = Membership.objects.get(merchant=m, role="owner")
    merchant_services.membership_email_settings_set(
        membership=owner, notify_payments=False, notify_failures=True, language="en"
    )
    for n in range(2):
        session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=shop_link)
        headers = {"HTTP_X_KASSA_PAGE_TOKEN": framing.page_token(session), "HTTP_ORIGIN": "http://testserver"}
        body = json.dumps({"token": card_token("4000000000000002"), "email": f"payer{n}@example.com"})
        url = f"/pay/session/{session.public_id}/pay"
        assert client.post(url, body, content_type="application/json", **headers).status_code == 402
    declined = list(PaymentIntent.objects.order_by("pk"))
    assert [intent.status for intent in declined] == ["requires_payment_method"] * 2
    mailoutbox.clear()
    outcomes = [[intent.pk, "failed"] for intent in declined]
    assert tasks.payment_emails_send_many.apply(args=[outcomes]).get() == 1
    (notice,) = mailoutbox
    assert notice.to == [owner.user.email]
    assert notice.subject == "[Test] 2 payments totalling €50.00 failed (Shop)"
    text, html = parts(notice)
    for body in (text, html):
        assert "2 payments to Shop, totalling €50.00, failed." in body
        for n, intent in enumerate(declined):
            assert intent.public_id in body
            assert f"payer{n}@example.com" in body
        assert "declined" in body
    rows = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(rows) == 2
    assert all("declined" in row for row in rows)
