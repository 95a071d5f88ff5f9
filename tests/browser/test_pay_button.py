"""Kassa's pay button on a client app's page served from another origin (127.0.0.1 vs Kassa's localhost)."""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.catalogue import services
from billing.checkout import services as checkout
from billing.models import CheckoutSession, PaymentIntent
from tests.conftest import processor_payment_intents

from .test_hosted_checkout import fill_card

pytestmark = pytest.mark.services

SHOP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Tea shop</title></head>
<body>
  <h1>Tea shop</h1>
  <div id="pay"></div>
  <script src="{kassa_url}/static/kassa/pay-button.js"></script>
  <script>
    window.events = [];
    KassaPay.mount(document.getElementById("pay"), Object.assign({options}, {{
      onPaymentComplete: function (data) {{ window.events.push(["complete", data]); }},
      onPaymentDataReceived: function (data) {{ window.events.push(["data", data]); }},
      onPaymentError: function (error) {{ window.events.push(["error", error]); }},
    }}));
  </script>
</body></html>
"""


@pytest.fixture
def price(paying_shop):
    m = paying_shop.merchant
    product = services.product_create(merchant=m, livemode=False, name="Tea")
    return services.price_create(merchant=m, livemode=False, product=product, currency="eur", unit_amount=1250)


def publish(merchant_site, kassa_url, name, **options) -> str:
    options = {"kassaUrl": kassa_url, **options}
    merchant_site.pages[f"/{name}.html"] = SHOP_PAGE.format(kassa_url=kassa_url, options=json.dumps(options))
    return f"{merchant_site.url}/{name}.html"


def events(page, kind):
    return [data for name, data in page.evaluate("window.events") if name == kind]


def confirmed(session: CheckoutSession) -> dict:
    session.refresh_from_db()
    intent = PaymentIntent.objects.get(checkout_session=session)
    return {
        "checkout_session": session.public_id,
        "payment_intent": intent.public_id,
        "amount": intent.amount_received,
        "currency": intent.currency,
        "status": "succeeded",
        "payment_status": "paid",
        "livemode": False,
    }


def test_overlay_from_a_payment_link_reports_the_confirmed_payment(
    page, kassa_url, merchant_site, paying_shop, price, stripe_backend
):
    link = checkout.payment_link_create(
        merchant=paying_shop.merchant, livemode=False, line_items=[{"price": price, "quantity": 2}]
    )
    shop = publish(
        merchant_site,
        kassa_url,
        "overlay",
        publishableKey=paying_shop.publishable_key.secret,
        paymentLink=link.public_id,
        mode="overlay",
    )
    page.goto(shop)
    page.get_by_role("button", name="Pay").click()
    frame = page.frame_locator("iframe.kassa-pay-frame")
    expect(frame.locator("#total")).to_have_text("€25.00")
    session = CheckoutSession.objects.get(payment_link=link)
    # A message that does not come from Kassa's origin is ignored, however it looks.
    forged = {"source": "kassa", "type": "payment", "status": "succeeded"}
    forged["payment"] = {"checkout_session": session.public_id, "payment_status": "paid", "status": "succeeded"}
    page.evaluate("m => window.postMessage(m, '*')", forged)
    # A decline is reported, and the payer tries again in the same overlay.
    frame.locator("#email").fill("payer@example.com")
    fill_card(frame, "4000000000000002")
    frame.locator("#pay-button").click()
    expect(frame.locator("#payment-message")).to_contain_text("declined")
    assert events(page, "complete") == []
    [error] = events(page, "error")
    assert error["code"] == "card_declined"
    fill_card(frame, "4242424242424242")
    frame.locator("#pay-button").click()
    page.wait_for_function("window.events.some(e => e[0] === 'complete')")
    assert events(page, "complete") == [confirmed(session)]
    assert events(page, "data")[-1] == confirmed(session)
    # The overlay closes itself after a completed payment; exactly one charge was made.
    expect(page.locator(".kassa-pay-overlay")).to_have_count(0)
    assert events(page, "complete") == [confirmed(session)]
    assert [p["status"] for p in processor_payment_intents(stripe_backend)] == ["succeeded"]


def test_popup_for_a_checkout_session_with_three_d_secure(page, kassa_url, merchant_site, paying_shop, price):
    session = checkout.checkout_session_create(
        now=timezone.now(),
        merchant=paying_shop.merchant,
        livemode=False,
        line_items=[{"price": price, "quantity": 1}],
        success_url="https://shop.example/thanks",
    )
    shop = publish(merchant_site, kassa_url, "popup", checkoutSession=session.public_id, mode="popup")
    page.goto(shop)
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Pay").click()
    popup = opened.value
    popup.wait_for_url(f"**/pay/session/{session.public_id}?embed=1*")
    popup.fill("#email", "payer@example.com")
    fill_card(popup, "4000002500003155")
    popup.click("#pay-button")
    popup.get_by_role("button", name="Complete authentication").click()
    page.wait_for_function("window.events.some(e => e[0] === 'complete')")
    assert events(page, "complete") == [confirmed(session)]
    statuses = [data["status"] for data in events(page, "data")]
    assert statuses == ["requires_action", "succeeded"]
    assert events(page, "error") == []


AUTO_MOUNT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Tea shop</title></head>
<body>
  <script>
    window.events = [];
    function paid(data) {{ window.events.push(["complete", data]); }}
    function failed(error) {{ window.events.push(["error", error]); }}
  </script>
  <div data-kassa-pay data-checkout-session="{session}" data-label="Buy tea"
       data-on-payment-complete="paid" data-on-payment-error="failed"></div>
  <script src="{kassa_url}/static/kassa/pay-button.js"></script>
</body></html>
"""


def test_a_button_from_data_attributes_and_closing_before_paying(page, kassa_url, merchant_site, paying_shop, price):
    session = checkout.checkout_session_create(
        now=timezone.now(), merchant=paying_shop.merchant, livemode=False, line_items=[{"price": price, "quantity": 1}]
    )
    # No kassaUrl: the button talks to the Kassa it was loaded from.
    merchant_site.pages["/auto.html"] = AUTO_MOUNT_PAGE.format(session=session.public_id, kassa_url=kassa_url)
    page.goto(f"{merchant_site.url}/auto.html")
    page.get_by_role("button", name="Buy tea").click()
    expect(page.frame_locator("iframe.kassa-pay-frame").locator("#total")).to_have_text("€12.50")
    page.get_by_role("button", name="Close").click()
    expect(page.locator(".kassa-pay-overlay")).to_have_count(0)
    assert [e["code"] for e in events(page, "error")] == ["canceled"]
    assert events(page, "complete") == []
    expect(page.get_by_role("button", name="Buy tea")).to_be_enabled()
