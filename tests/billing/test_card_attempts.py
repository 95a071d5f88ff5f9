"""Card testing: each hosted page that hands Stripe a card counts the attempts per page and per payer address,
and past either limit answers 429 in the payer's language without asking Stripe (billing/hosted/attempts.py).

Through Django's test client against a real localstripe: what reaches the processor is counted there. Each test
sets its own low limits (the suite's are out of the way, tests/settings.py) and its own payer addresses, so that
counters other tests left in a shared Redis never meet it."""

import uuid

from django.utils import timezone

from billing.checkout import services as checkout
from billing.hosted import framing
from billing.models import CheckoutSession
from tests import factories
from tests.billing.checkout.test_pages import FRENCH, post_json
from tests.billing.invoices.hosted import open_invoice, pay_call, seller_settings
from tests.billing.payments.test_services import link  # noqa: F401 (a fixture: a link of 25.00 EUR)
from tests.billing.portal.test_pages import new_session, opened
from tests.conftest import processor_payment_intents

DECLINED = "4000000000000002"  # declined as it is attached to the payer (DESIGN.md, localstripe)


def _address() -> str:
    """A payer address of this test's own (TEST-NET-3, RFC 5737)."""
    return f"203.0.113.{uuid.uuid4().int % 250 + 1}"


def _session(payment_link) -> CheckoutSession:
    return checkout.checkout_session_from_link(now=timezone.now(), payment_link=payment_link)


def _pay(client, session, token, address, **headers):
    body = {"token": token, "email": "payer@example.com"}
    return post_json(client, session, "/pay", body, REMOTE_ADDR=address, **headers)


def test_a_checkout_session_takes_so_many_cards_an_hour_then_asks_stripe_nothing_more(
    client,
    link,  # noqa: F811
    card_token,
    stripe_backend,
    settings,
):
    settings.KASSA_CARD_ATTEMPTS_PER_PAGE = "3/h"
    settings.KASSA_CARD_ATTEMPTS_PER_ADDRESS = "100/h"
    session, address = _session(link), _address()
    for _ in range(3):
        declined = _pay(client, session, card_token(DECLINED), address)
        assert (declined.status_code, declined.json()["code"]) == (402, "card_declined")

    refused = _pay(client, session, card_token(), address)  # a good card now: not even tried
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert refused.json()["message"] == "Too many card attempts. Nothing was charged; try again later."
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert processor_payment_intents(stripe_backend) == []
    session.refresh_from_db()
    assert session.status == "open"
    french = _pay(client, session, card_token(), address, **FRENCH)
    assert french.json()["message"] == "Trop de tentatives avec une carte. Rien n'a été débité ; réessayez plus tard."

    # Another session of the same link is another page: its payer pays.
    other = _pay(client, _session(link), card_token(), address)
    assert (other.status_code, other.json()["status"]) == (200, "succeeded")


def test_one_address_trying_cards_on_many_sessions_is_stopped_and_another_address_is_not(
    client,
    link,  # noqa: F811
    card_token,
    stripe_backend,
    settings,
):
    settings.KASSA_CARD_ATTEMPTS_PER_PAGE = "100/h"
    settings.KASSA_CARD_ATTEMPTS_PER_ADDRESS = "4/h"
    tester, payer = _address(), _address()
    while payer == tester:
        payer = _address()
    for _ in range(4):  # one card a session, a fresh session each time, as a card tester does with a link
        assert _pay(client, _session(link), card_token(DECLINED), tester).status_code == 402

    refused = _pay(client, _session(link), card_token(), tester)
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_attempts")
    assert processor_payment_intents(stripe_backend) == []
    paid = _pay(client, _session(link), card_token(), payer)
    assert (paid.status_code, paid.json()["status"]) == (200, "succeeded")
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_an_invoice_page_counts_its_card_attempts(client, paying_shop, card_token, stripe_backend, settings):
    settings.KASSA_CARD_ATTEMPTS_PER_PAGE = "1/h"
    settings.KASSA_CARD_ATTEMPTS_PER_ADDRESS = "100/h"
    seller_settings(paying_shop.merchant)
    invoice, address = open_invoice(paying_shop.merchant), _address()
    assert pay_call(client, invoice, card_token(DECLINED), REMOTE_ADDR=address).status_code == 402

    refused = pay_call(client, invoice, card_token(), REMOTE_ADDR=address)
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_attempts")
    assert refused.json()["message"] == "Too many card attempts. Nothing was charged; try again later."
    assert "Retry-After" in refused
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert processor_payment_intents(stripe_backend) == []


def test_the_portal_counts_its_new_cards(client, paying_shop, card_token, stripe_backend, settings):
    settings.KASSA_CARD_ATTEMPTS_PER_PAGE = "1/h"
    settings.KASSA_CARD_ATTEMPTS_PER_ADDRESS = "100/h"
    payer = factories.customer(paying_shop.merchant, email="ada@example.com", name="Ada")
    session, address = new_session(payer), _address()
    opened(client, session, REMOTE_ADDR=address)

    def give(number):
        return client.post(
            f"/portal/{session.token}/card",
            {"token": card_token(number)},
            content_type="application/json",
            headers={framing.PAGE_TOKEN_HEADER: framing.page_token(session)},
            REMOTE_ADDR=address,
        )

    assert give(DECLINED).status_code == 402
    refused = give("4242424242424242")
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_attempts")
    assert "Retry-After" in refused
    payer.refresh_from_db()
    assert payer.default_payment_method is None  # the good card never went to Stripe, nor was saved
