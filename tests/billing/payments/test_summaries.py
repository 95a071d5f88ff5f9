"""The daily summary (billing/dashboard/summaries.py): one email a morning to each member who asked, about the day
before, per merchant and mode with payments; in the member's language; once, whatever reruns; none after a quiet
day. Payments are made through the hosted page on localstripe, as a payer makes them."""

import json
from datetime import UTC, timedelta

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format

from billing.checkout import services as checkout
from billing.dashboard import summaries
from billing.dashboard.tasks import daily_summaries_send
from billing.hosted import framing
from billing.models import PaymentIntent
from billing.payments import services as payments
from merchants import services as merchant_services
from merchants.models import Membership
from tests import factories

from .test_emails import parts, pay, shop_link, to  # noqa: F401 (shop_link: a fixture)


def _decline(client, link, card_token):
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    headers = {"HTTP_X_KASSA_PAGE_TOKEN": framing.page_token(session), "HTTP_ORIGIN": "http://testserver"}
    body = json.dumps({"token": card_token("4000000000000002"), "email": "payer@example.com"})
    url = f"/pay/session/{session.public_id}/pay"
    assert client.post(url, body, content_type="application/json", **headers).status_code == 402


def _daily(membership, *, on: bool = True, language: str = "en"):
    return merchant_services.membership_email_settings_set(
        membership=membership, notify_payments=False, notify_failures=False, notify_daily=on, language=language
    )


@pytest.fixture
def tomorrow():
    """Beat's run the morning after the payments: their day is today (UTC)."""
    now = timezone.now()
    return now + timedelta(days=1), now.astimezone(UTC).date()


def test_each_member_who_asked_gets_yesterdays_payments_once_in_their_language(
    client,
    shop_link,  # noqa: F811
    card_token,
    mailoutbox,
    other_shop,
    tomorrow,
):
    m = shop_link.merchant
    owner = _daily(Membership.objects.get(merchant=m, role="owner"))
    _daily(Membership.objects.get(user=factories.staff(m, "admin", email="fr@shop.test"), merchant=m), language="fr")
    factories.staff(m, "viewer", email="quiet@shop.test")  # did not ask
    _daily(Membership.objects.get(merchant=other_shop.merchant, role="owner"))  # asked, at a merchant with no payments
    for _ in range(2):
        assert pay(client, shop_link, card_token()).status_code == 200  # two of 25.00 EUR
    _decline(client, shop_link, card_token)
    payments.refund_create(payment_intent=PaymentIntent.objects.filter(status="succeeded").first(), amount=700)
    mailoutbox.clear()  # the payers' receipts

    now, day = tomorrow
    assert summaries.daily_summaries_send(now=now) == 2
    assert sorted(message.to[0] for message in mailoutbox) == sorted([owner.user.email, "fr@shop.test"])

    (english,) = to(mailoutbox, owner.user.email)
    with translation.override("en"):
        shown = date_format(day, "DATE_FORMAT")
    assert english.subject == f"[Test] Shop: your payments on {shown}"
    for body in parts(english):
        assert f"Shop on {shown} (UTC):" in body
        assert "2 payments received, totalling €50.00." in body
        assert "1 payment declined." in body
        assert "1 refund made, totalling €7.00." in body
        assert "Test mode: no money moved." in body
        assert "/admin/billing/paymentintent/" in body
        assert "/admin/email-settings/" in body
    (francais,) = to(mailoutbox, "fr@shop.test")
    with translation.override("fr"):
        montre = date_format(day, "DATE_FORMAT")
    assert francais.subject == f"[Test] Shop : vos paiements du {montre}"
    for body in parts(francais):
        assert "2 paiements reçus, 50,00\xa0€ au total." in body
        assert "1 paiement refusé." in body
        assert "1 remboursement effectué, 7,00\xa0€ au total." in body

    # Once: beat's second run that morning, or the task's retry, sends nothing more.
    assert summaries.daily_summaries_send(now=now + timedelta(hours=2)) == 0
    assert daily_summaries_send.apply().get() == 0  # beat's task now: about yesterday, when nothing happened
    assert len(mailoutbox) == 2
    # A quiet day sends nothing.
    assert summaries.daily_summaries_send(now=now + timedelta(days=1)) == 0


def test_switched_on_in_the_dashboard_by_the_member_and_off_by_default(client, shop, mailoutbox):
    m = shop.merchant
    member = Membership.objects.get(merchant=m, role="owner")
    assert member.notify_daily is False
    client.force_login(member.user)
    page = client.get("/admin/email-settings/").content.decode()
    assert 'name="notify_daily"' in page
    assert (
        "Email me a summary of each day&#x27;s payments" in page or "Email me a summary of each day's payments" in page
    )
    saved = client.post("/admin/email-settings/", {"notify_daily": "on", "language": "en"})
    assert saved.status_code == 302
    member.refresh_from_db()
    assert (member.notify_daily, member.notify_payments, member.notify_failures) == (True, False, False)
