"""The dashboard's webhook pages in Chromium: choosing event types, deliveries that refresh, resending.

A real receiver on loopback gets the events; the delivery service runs in
this process (as a worker would) while the page, left alone, polls its
deliveries panel and shows the result without a reload.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_dashboard_login import log_in
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.services import delivery

pytestmark = pytest.mark.timeout(120)


def _shot(page, name: str) -> None:
    """With KASSA_SCREENSHOTS=<dir>, a full-page screenshot to look at (the lead's README tour uses them)."""
    folder = os.environ.get("KASSA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


#: What a strict deployment would send: scripts and connections from Kassa itself only, nothing inline.
#: (Inline styles stay allowed here: the dashboard's base template still has some; none are the webhook pages'.)
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)


def _under_strict_csp(page) -> None:
    """Every webhook page (and its deliveries panels) served with STRICT_CSP: the page's script must still work."""

    def add_policy(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.route("**/admin/webhooks/**", add_policy)


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def test_choose_event_types_then_watch_a_delivery_arrive(page, kassa_url, receiver):
    shop = factories.merchant("Alpha")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, kassa_url, shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")

    _under_strict_csp(page)

    # --- the add form: a URL box the whole width, the event types grouped, a filter
    page.goto(f"{kassa_url}/admin/webhooks/webhookendpoint/add/")
    url = receiver.plan("/hooks")
    page.fill("#id_url", url)
    url_box = page.locator("#id_url").bounding_box()
    events_box = page.locator(".kassa-events").bounding_box()
    assert url_box["width"] > 700, url_box  # not a narrow box that cuts the URL off
    assert events_box["width"] >= url_box["width"], events_box  # the event types use the whole width too
    groups = page.locator("[data-kassa-group]")
    assert groups.count() >= 8
    for name in ("payment_intent", "checkout.session", "charge", "refund", "customer", "product", "price"):
        expect(page.locator(f'[data-kassa-group="{name}"]')).to_be_visible()
    # Full names on one line each: a name's box is one line high.
    for code in page.locator(".kassa-events-group li code").all():
        box = code.bounding_box()
        assert box["height"] < 24, (code.inner_text(), box)
    _shot(page, "webhook-endpoint-add")

    page.fill("[data-kassa-filter]", "refund")
    shown = sorted(
        page.locator(".kassa-events-group li:visible").evaluate_all("els => els.map(e => e.dataset.kassaType)")
    )
    assert shown == ["charge.refunded", "refund.created", "refund.failed", "refund.updated"]
    expect(page.locator('[data-kassa-group="payment_intent"]')).to_be_hidden()
    page.locator('[data-kassa-group="refund"] [data-kassa-select-group]').click()
    expect(page.locator('[data-kassa-group="refund"] [data-kassa-select-group]')).to_have_text("Clear")
    expect(page.locator('input[value="refund.created"]')).to_be_checked()
    expect(page.locator('input[value="refund.updated"]')).to_be_checked()
    expect(page.locator('input[value="refund.failed"]')).to_be_checked()
    expect(page.locator('input[value="charge.refunded"]')).not_to_be_checked()
    page.locator("[data-kassa-filter]").press("Enter")  # in the filter box: filters, does not submit
    assert page.url.endswith("/add/")
    _shot(page, "webhook-endpoint-add-filtered")
    page.click("input[name=_save]")

    # --- the secret, once; then the endpoint's page
    expect(page.locator(".kassa-secret")).to_contain_text("whsec_")
    page.click("text=I have copied it")
    endpoint = WebhookEndpoint.objects.get(url=url)
    assert endpoint.enabled_events == ["refund.created", "refund.updated", "refund.failed"]
    expect(page.locator("#kassa-recent-deliveries")).to_contain_text("No deliveries yet")

    # --- deliveries at the top, pending, then delivered without a reload
    page.click("#kassa-send-test button")
    row = page.locator("#kassa-deliveries tbody tr").first
    expect(row).to_contain_text("webhook_endpoint.test")
    expect(row.locator(".kassa-status")).to_have_text("Pending")
    panel_top = page.locator("#kassa-recent-deliveries").bounding_box()["y"]
    form_top = page.locator("#webhookendpoint_form").bounding_box()["y"]
    assert panel_top < form_top  # above the form, not below every checkbox
    page.evaluate("window.kassaNotReloaded = true")
    page.fill("#id_description", "typed while the delivery is on its way")  # the refresh must not lose it
    _shot(page, "webhook-endpoint-pending")

    assert delivery.endpoint_deliver(endpoint_pk=endpoint.pk) == 1  # what a worker does
    assert Delivery.objects.get(endpoint=endpoint).status == Delivery.Status.SUCCEEDED
    assert len(receiver.received("/hooks")) == 1
    expect(row.locator(".kassa-status")).to_have_text("Delivered", timeout=15_000)
    expect(page.locator("#kassa-deliveries tbody tr").first).to_contain_text("HTTP 200")
    assert page.evaluate("window.kassaNotReloaded") is True  # the same page: it refreshed itself
    expect(page.locator("#id_description")).to_have_value("typed while the delivery is on its way")
    _shot(page, "webhook-endpoint-delivered")

    # --- the event's page: Resend and Close in the submit row
    page.click("#kassa-deliveries tbody tr >> text=webhook_endpoint.test")
    submit_row = page.locator(".submit-row")
    expect(submit_row).to_have_count(1)
    expect(submit_row.locator("#kassa-resend-button")).to_be_visible()
    expect(submit_row.locator(".closelink")).to_be_visible()
    _shot(page, "webhook-event")
    submit_row.locator("#kassa-resend-button").click()
    expect(page.locator(".messagelist")).to_contain_text("is being sent to")
    expect(page.locator("#kassa-deliveries .kassa-status").first).to_have_text("Pending")
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    expect(page.locator("#kassa-deliveries .kassa-status").first).to_have_text("Delivered", timeout=15_000)
    assert len(receiver.received("/hooks")) == 2

    # --- the events list: the Deliveries column is whole at 1280 px
    page.goto(f"{kassa_url}/admin/webhooks/event/")
    cell = page.locator("td.field-deliveries_summary").first
    expect(cell).to_contain_text("1 succeeded")
    # Wholly inside the list's visible area: not cut off by the list's own scroll box, nor by the window.
    assert cell.evaluate(
        """cell => {
            const r = cell.getBoundingClientRect(), box = cell.closest(".results").getBoundingClientRect();
            return r.right <= box.right + 1 && r.right <= window.innerWidth && cell.scrollWidth <= cell.clientWidth;
        }"""
    )
    _shot(page, "webhook-events")


def test_on_a_phone_the_event_types_fit_and_no_name_is_broken(phone_page, kassa_url):
    from webhooks.services import endpoints

    shop = factories.merchant("Alpha")
    endpoint, _secret = endpoints.webhook_endpoint_create(
        merchant=shop.merchant,
        livemode=False,
        url="https://alpha.example/a/rather/long/path/to/its/webhooks",
        enabled_events=["*"],
    )
    log_in(phone_page, kassa_url, shop.owner.username)
    phone_page.wait_for_url(f"{kassa_url}/admin/")
    phone_page.goto(f"{kassa_url}/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    expect(phone_page.locator("#kassa-recent-deliveries")).to_be_visible()
    expect(phone_page.locator("#id_url")).to_have_value(endpoint.url)
    width = phone_page.evaluate("document.documentElement.clientWidth")
    for code in phone_page.locator(".kassa-events-group li code").all():
        box = code.bounding_box()
        assert box["height"] < 24, (code.inner_text(), box)
        assert box["x"] + box["width"] <= width, (code.inner_text(), box, width)
    url_box = phone_page.locator("#id_url").bounding_box()
    assert url_box["x"] + url_box["width"] <= width, url_box
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    _shot(phone_page, "webhook-endpoint-phone")
