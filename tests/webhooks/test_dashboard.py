"""The dashboard's webhook pages as merchant staff use them: endpoints, events sent, Stripe's events received.

No delivery is made here: sending is a Celery task queued on commit, and these
tests run inside a transaction that never commits, so nothing is queued.
"""

import hashlib
import hmac
import html
import json
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.catalogue import services as billing
from kassa import crypto
from merchants import services as merchants
from merchants.models import Membership
from tests import factories
from webhooks.models import Delivery, DeliveryAttempt, Event, ProcessorEvent, WebhookEndpoint
from webhooks.services import endpoints, inbound, outbox

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
EVENTS = "/admin/webhooks/event/"
STRIPE_EVENTS = "/admin/webhooks/processorevent/"
STRIPE_SECRET = "whsec_dashboardtest0000"


def _endpoint(merchant, url="http://127.0.0.1:9/hook", livemode=False, events=("*",), **options) -> WebhookEndpoint:
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=merchant, livemode=livemode, url=url, enabled_events=list(events), **options
    )
    return endpoint


def _stripe_event(merchant, event_id="evt_stripe_1", type="payment_intent.succeeded", livemode=False):
    """An event as Stripe sends it, signed and stored through the real receiving service."""
    body = json.dumps(
        {"id": event_id, "object": "event", "type": type, "livemode": livemode, "data": {"object": {"id": "pi_123"}}}
    ).encode()
    timestamp = int(time.time())
    # https://docs.stripe.com/webhooks#verify-manually
    signature = hmac.new(STRIPE_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    event, _ = inbound.processor_event_receive(
        merchant_id=merchant.public_id,
        mode="live" if livemode else "test",
        body=body,
        signature=f"t={timestamp},v1={signature}",
    )
    return event


def _failed(event: ProcessorEvent) -> ProcessorEvent:
    """What a worker leaves when applying it failed for good."""
    ProcessorEvent.objects.filter(pk=event.pk).update(
        status=ProcessorEvent.Status.FAILED,
        attempts=8,
        error="ProcessorError: Stripe is unreachable",
        traceback='Traceback (most recent call last):\n  File "payments.py", line 1\nProcessorError: <unreachable>',
        processed_at=timezone.now(),
    )
    event.refresh_from_db()
    return event


def _secret_on_page(page: str) -> str:
    return re.search(r'data-secret-label="[^"]*">([^<]+)<', page).group(1)


def _url(base: str, obj, action: str = "change") -> str:
    return f"{base}{obj.pk}/{action}/"


def _planned(event: Event) -> Event:
    outbox.events_dispatch()  # what a worker does right after the commit
    return event


@pytest.fixture
def shops(db):
    """Two merchants, each with Stripe credentials (and its signing secret), an endpoint, an event, a Stripe event."""
    data = {}
    for name in ("Alpha", "Beta"):
        shop = factories.merchant(name)
        m = shop.merchant
        for livemode in (False, True):
            mode = "live" if livemode else "test"
            merchants.processor_credential_set(
                merchant=m, livemode=livemode, secret_key=f"sk_{mode}_{name}0000", webhook_secret=STRIPE_SECRET
            )
        endpoint = _endpoint(m, url=f"https://{name.lower()}.example/hooks", description=f"{name} orders")
        product = billing.product_create(merchant=m, livemode=False, name=f"{name} Tea")
        data[name] = {
            "shop": shop,
            "merchant": m,
            "admin": factories.staff(m, Membership.Role.ADMIN),
            "endpoint": endpoint,
            "event": _planned(
                Event.objects.get(merchant=m, type="product.created", data__object__id=product.public_id)
            ),
            "stripe_event": _stripe_event(m, event_id=f"evt_{name}_1"),
        }
    return data


# --- the section and its own pages (lists, search, add and change: tests/test_dashboard_smoke.py) ----------


def test_the_webhooks_section_and_its_own_pages(client, shops):
    alpha = shops["Alpha"]
    client.force_login(alpha["shop"].owner)
    for page in (_url(ENDPOINTS, alpha["endpoint"], "roll"), _url(ENDPOINTS, alpha["endpoint"], "delete")):
        assert client.get(page).status_code == 200, page
    index = client.get("/admin/").text
    for section in ("Webhook endpoints", "Events", "Stripe events (inbound)"):
        assert section in index
    assert "Deliveries" not in index  # shown on their endpoint's and event's pages, no page of their own


def test_platform_staff_see_every_merchants_endpoints_with_a_filter(client, shops):
    client.force_login(factories.platform_staff())
    page = client.get(ENDPOINTS)
    assert "https://alpha.example/hooks" in page.text
    assert "https://beta.example/hooks" in page.text
    assert "By merchant" in page.text
    assert client.get(f"{ENDPOINTS}add/").status_code == 403  # pick a merchant first
    assert "evt_Beta_1" in client.get(STRIPE_EVENTS).text


# --- endpoints ----------------------------------------------------------------------------


def test_creating_an_endpoint_shows_its_secret_once(client, shops):
    alpha = shops["Alpha"]
    client.force_login(alpha["admin"])
    add = client.get(f"{ENDPOINTS}add/")
    assert "payment_intent.succeeded" in add.text
    assert "All events (*)" in add.text

    # Test mode allows a receiver on the developer's own machine (loopback, plain http).
    response = client.post(
        f"{ENDPOINTS}add/",
        {
            "url": "http://127.0.0.1:4242/webhooks",
            "description": "Local receiver",
            "enabled_events": ["payment_intent.succeeded", "payment_intent.payment_failed"],
        },
    )
    assert response.status_code == 200, response.text[:2000]
    assert "no-store" in response["Cache-Control"]
    secret = _secret_on_page(response.text)
    assert secret.startswith("whsec_")

    endpoint = WebhookEndpoint.objects.get(url="http://127.0.0.1:4242/webhooks")
    assert (endpoint.merchant, endpoint.livemode, endpoint.status) == (alpha["merchant"], False, "enabled")
    assert endpoint.enabled_events == ["payment_intent.succeeded", "payment_intent.payment_failed"]
    assert endpoint.description == "Local receiver"
    assert endpoint.public_id.startswith("we_")
    # Stored encrypted only; afterwards the dashboard shows its last four characters.
    assert secret not in endpoint.secret_ciphertext
    assert crypto.decrypt(endpoint.secret_ciphertext) == secret
    detail = client.get(_url(ENDPOINTS, endpoint))
    assert secret not in detail.text
    assert f"whsec_…{secret[-4:]}" in detail.text
    assert f'href="{_url(ENDPOINTS, endpoint)}"' in response.text  # "continue" leads to its page

    listing = client.get(ENDPOINTS)
    assert "http://127.0.0.1:4242/webhooks" in listing.text
    assert "payment_intent.succeeded, payment_intent.payment_failed" in listing.text
    assert "Local receiver" in listing.text

    # "*" with other types is just "*".
    client.post(f"{ENDPOINTS}add/", {"url": "https://all.example/", "enabled_events": ["*", "refund.created"]})
    assert WebhookEndpoint.objects.get(url="https://all.example/").enabled_events == ["*"]


def test_live_mode_refuses_loopback_and_plain_http(client, shops, settings):
    assert settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK  # on in development and tests; live mode refuses it anyway
    client.force_login(shops["Alpha"]["admin"])
    client.post("/admin/switch/mode/", {"livemode": "1"})
    before = WebhookEndpoint.objects.count()

    plain = client.post(f"{ENDPOINTS}add/", {"url": "http://127.0.0.1:4242/hook", "enabled_events": ["*"]})
    assert plain.status_code == 200
    assert "A live-mode webhook endpoint must use https." in plain.text
    loopback = client.post(f"{ENDPOINTS}add/", {"url": "https://127.0.0.1/hook", "enabled_events": ["*"]})
    assert loopback.status_code == 200
    assert "Webhook URLs may not point at a loopback address: 127.0.0.1" in loopback.text
    # Private addresses are refused in every mode.
    client.post("/admin/switch/mode/", {"livemode": "0"})
    private = client.post(f"{ENDPOINTS}add/", {"url": "http://10.1.2.3/hook", "enabled_events": ["*"]})
    assert "may not point at a private or reserved address" in private.text
    assert WebhookEndpoint.objects.count() == before


def test_an_endpoint_is_changed_and_deleted_through_the_services(client, shops):
    alpha = shops["Alpha"]
    endpoint = alpha["endpoint"]
    client.force_login(alpha["admin"])
    response = client.post(
        _url(ENDPOINTS, endpoint),
        {
            "url": "https://alpha.example/v2/hooks",
            "description": "",
            "enabled_events": ["refund.created", "refund.updated"],
            "metadata-key": "team",
            "metadata-value": "ops",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    endpoint.refresh_from_db()
    assert endpoint.url == "https://alpha.example/v2/hooks"
    assert endpoint.enabled_events == ["refund.created", "refund.updated"]
    assert endpoint.description is None
    assert endpoint.metadata == {"team": "ops"}

    # The service's checks come back as form errors, and nothing is written.
    bad = client.post(
        _url(ENDPOINTS, endpoint),
        {"url": "http://169.254.169.254/latest", "enabled_events": ["*"], "metadata": "{}"},
    )
    assert bad.status_code == 200
    assert "may not point at a private or reserved address" in bad.text
    endpoint.refresh_from_db()
    assert endpoint.url == "https://alpha.example/v2/hooks"
    assert endpoint.metadata == {"team": "ops"}

    event = alpha["event"]
    endpoints.event_resend(event=event, endpoint=endpoint)
    confirm = client.get(_url(ENDPOINTS, endpoint, "delete"))
    assert "1 delivery record and its attempts" in confirm.text
    assert client.post(_url(ENDPOINTS, endpoint, "delete"), {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert Event.objects.filter(pk=event.pk).exists()  # events stay


def test_rolling_the_secret_shows_the_new_one_and_keeps_the_old_one_signing_for_a_day(client, shops):
    alpha = shops["Alpha"]
    endpoint = alpha["endpoint"]
    old_secret = crypto.decrypt(endpoint.secret_ciphertext)
    client.force_login(alpha["admin"])
    page = client.get(_url(ENDPOINTS, endpoint))
    assert _url(ENDPOINTS, endpoint, "roll") in page.text

    form = client.get(_url(ENDPOINTS, endpoint, "roll"))
    assert "In 24 hours" in form.text
    rolled = client.post(_url(ENDPOINTS, endpoint, "roll"), {"expire_old_in": "86400"})
    assert rolled.status_code == 200
    assert "no-store" in rolled["Cache-Control"]
    new_secret = _secret_on_page(rolled.text)
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    assert "The old secret keeps signing too until" in rolled.text

    endpoint.refresh_from_db()
    assert crypto.decrypt(endpoint.secret_ciphertext) == new_secret
    assert crypto.decrypt(endpoint.previous_secret_ciphertext) == old_secret
    expected = timezone.now() + timedelta(hours=24)
    assert abs((endpoint.previous_secret_expires_at - expected).total_seconds()) < 60
    assert endpoint.secret_hint == f"whsec_…{new_secret[-4:]}"
    detail = client.get(_url(ENDPOINTS, endpoint))
    assert "Still signs too, until" in detail.text
    assert new_secret not in detail.text

    # "Now": the old secret stops at once.
    client.post(_url(ENDPOINTS, endpoint, "roll"), {"expire_old_in": "0"})
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_expires_at <= timezone.now()
    assert "Stopped signing at" in client.get(_url(ENDPOINTS, endpoint)).text
    # A period the form does not offer is refused.
    client.post(_url(ENDPOINTS, endpoint, "roll"), {"expire_old_in": "604800"})
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_expires_at <= timezone.now()


def test_disable_and_enable(client, shops):
    alpha = shops["Alpha"]
    endpoint = alpha["endpoint"]
    delivery = endpoints.event_resend(event=alpha["event"], endpoint=endpoint)
    client.force_login(alpha["admin"])
    status_url = _url(ENDPOINTS, endpoint, "status")
    assert client.get(status_url).status_code == 405

    disabled = client.post(status_url, {"disabled": "1"}, follow=True)
    assert "is disabled" in disabled.text
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "Disabled by the merchant.")
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED  # given up, still resendable
    page = client.get(_url(ENDPOINTS, endpoint))
    assert "Disabled by the merchant." in page.text
    assert ">Enable</button>" in page.text
    assert "Send test event" not in page.text
    assert "disabled" in client.get(ENDPOINTS).text

    client.post(status_url, {"disabled": "0"})
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == ("enabled", "")
    assert ">Disable</button>" in client.get(_url(ENDPOINTS, endpoint)).text


def test_send_test_event(client, shops, django_capture_on_commit_callbacks):
    alpha = shops["Alpha"]
    endpoint = alpha["endpoint"]
    other = _endpoint(alpha["merchant"], url="https://other.example/hooks")
    client.force_login(alpha["admin"])
    test_url = _url(ENDPOINTS, endpoint, "test")
    assert client.get(test_url).status_code == 405

    with django_capture_on_commit_callbacks() as queued:
        sent = client.post(test_url, follow=True)
    assert "Test event evt_" in sent.text
    event = Event.objects.get(merchant=alpha["merchant"], type="webhook_endpoint.test")
    assert event.livemode is False
    assert event.data["object"]["id"] == endpoint.public_id
    assert "secret" not in event.data["object"]
    assert [(d.endpoint, d.status) for d in event.deliveries.all()] == [(endpoint, "pending")]
    assert not other.deliveries.exists()
    assert len(queued) == 1  # the delivery task, queued when the transaction commits

    # The endpoint's page lists it under recent deliveries, the event's page shows its JSON.
    assert event.public_id in client.get(_url(ENDPOINTS, endpoint)).text
    page = client.get(_url(EVENTS, event))
    assert '"type": "webhook_endpoint.test"' in html.unescape(page.text)
    assert endpoint.url in page.text

    # A disabled endpoint gets no test event, with a message rather than an error page.
    endpoints.webhook_endpoint_update(endpoint=endpoint, disabled=True)
    refused = client.post(test_url, follow=True)
    assert refused.status_code == 200
    assert "is disabled; enable it first" in refused.text


def test_deliveries_show_their_attempts(client, shops):
    alpha = shops["Alpha"]
    endpoint, event = alpha["endpoint"], alpha["event"]
    delivery = endpoints.event_resend(event=event, endpoint=endpoint)
    started = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery, started_at=started, duration_ms=87, status_code=500, response_body="<h1>Oops</h1>" * 50
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, started_at=started + timedelta(seconds=5), error="Timed out after 2 s", manual=True
    )
    client.force_login(alpha["admin"])
    for page in (client.get(_url(ENDPOINTS, endpoint)), client.get(_url(EVENTS, event))):
        assert "HTTP 500" in page.text
        assert "87 ms" in page.text
        assert "&lt;h1&gt;Oops&lt;/h1&gt;" in page.text  # the receiver's answer, escaped
        assert "<h1>Oops" not in page.text
        assert "Timed out after 2 s" in page.text
        assert "manual" in page.text
    assert "1 pending" in client.get(EVENTS).text


def test_the_endpoint_page_shows_deliveries_first_and_its_panel_refreshes_alone(client, shops):
    alpha = shops["Alpha"]
    endpoint, event = alpha["endpoint"], alpha["event"]
    delivery = Delivery.objects.get(event=event, endpoint=endpoint)
    client.force_login(alpha["admin"])

    page = client.get(_url(ENDPOINTS, endpoint)).text
    # Deliveries above the form; the event types grouped by resource, with the script that filters them.
    assert page.index('id="kassa-recent-deliveries"') < page.index('id="webhookendpoint_form"')
    assert page.index('id="kassa-recent-deliveries"') < page.index('name="enabled_events"')
    for group in ("payment_intent", "checkout.session", "charge", "refund", "customer", "product", "price"):
        assert f'data-kassa-group="{group}"' in page
    assert "/static/kassa/webhooks.js" in page
    assert "/static/kassa/webhooks.css" in page
    assert "<script>" not in page.split('id="kassa-recent-deliveries"')[1]  # nothing inline: a strict CSP holds
    assert f'data-kassa-poll="{_url(ENDPOINTS, endpoint, "deliveries")}"' in page

    panel = client.get(_url(ENDPOINTS, endpoint, "deliveries"))
    assert panel.status_code == 200
    assert "no-store" in panel["Cache-Control"]
    assert "<html" not in panel.text  # the panel alone
    assert event.public_id in panel.text
    assert 'data-status="pending"' in panel.text
    assert 'data-kassa-poll-seconds="3"' in panel.text  # soon again while something is pending

    DeliveryAttempt.objects.create(delivery=delivery, duration_ms=12, status_code=200, succeeded=True)
    Delivery.objects.filter(pk=delivery.pk).update(status="succeeded", delivered_at=timezone.now())
    panel = client.get(_url(ENDPOINTS, endpoint, "deliveries")).text
    assert 'data-status="succeeded"' in panel
    assert "Delivered" in panel
    assert "HTTP 200" in panel
    assert "12 ms" in panel
    assert 'data-kassa-poll-seconds="15"' in panel
    event_panel = client.get(_url(EVENTS, event, "deliveries")).text
    assert endpoint.url in event_panel
    assert "Delivered" in event_panel


# --- events -------------------------------------------------------------------------------


def test_events_are_listed_filtered_and_searched(client, shops):
    alpha = shops["Alpha"]
    customer = billing.customer_create(merchant=alpha["merchant"], livemode=False, email="ann@example.com")
    waiting = Event.objects.get(type="customer.created", data__object__id=customer.public_id)
    client.force_login(alpha["admin"])
    assert "not planned yet (waiting for a worker)" in client.get(EVENTS).text
    _planned(waiting)
    listing = client.get(EVENTS)
    assert "product.created" in listing.text
    assert "customer.created" in listing.text
    assert "none (no endpoint listened)" not in listing.text  # Alpha's endpoint listens for everything
    only = client.get(EVENTS, {"type": "customer.created"})
    assert "customer.created" in only.text
    assert alpha["event"].public_id not in only.text
    found = client.get(EVENTS, {"q": alpha["event"].public_id})
    assert alpha["event"].public_id in found.text
    assert Event.objects.get(type="customer.created", data__object__id=customer.public_id).public_id not in found.text
    page = client.get(_url(EVENTS, alpha["event"]))
    assert '"object": "product"' in html.unescape(page.text)
    assert "Alpha Tea" in page.text


def test_resend_from_the_event_page(client, shops):
    alpha = shops["Alpha"]
    merchant = alpha["merchant"]
    event = alpha["event"]  # product.created; Alpha's first endpoint listens for everything
    quiet = _endpoint(merchant, url="https://quiet.example/hooks", events=["refund.created"])
    off = _endpoint(merchant, url="https://off.example/hooks")
    endpoints.webhook_endpoint_update(endpoint=off, disabled=True)
    live = _endpoint(merchant, url="https://live.example/hooks", livemode=True)
    client.force_login(alpha["admin"])

    page = client.get(_url(EVENTS, event))
    resend = page.text[page.text.index('id="kassa-resend"') :]
    assert "https://quiet.example/hooks" in resend  # any enabled endpoint, even one not listening
    assert "https://alpha.example/hooks" in resend
    assert "https://off.example/hooks" not in resend
    assert "https://live.example/hooks" not in resend

    resend_url = _url(EVENTS, event, "resend")
    assert client.get(resend_url).status_code == 405
    assert not Delivery.objects.filter(event=event, endpoint=quiet).exists()
    done = client.post(resend_url, {"endpoint": quiet.public_id}, follow=True)
    assert "is being sent to https://quiet.example/hooks again" in done.text
    delivery = Delivery.objects.get(event=event, endpoint=quiet)
    assert (delivery.status, delivery.resend_requested) == ("pending", True)

    # An existing delivery that failed is reset to pending.
    failed = Delivery.objects.get(event=event, endpoint=alpha["endpoint"])
    Delivery.objects.filter(pk=failed.pk).update(status="failed", next_attempt_at=None, attempt_count=9)
    client.post(resend_url, {"endpoint": alpha["endpoint"].public_id})
    failed.refresh_from_db()
    assert (failed.status, failed.resend_requested, failed.attempt_count) == ("pending", True, 9)
    assert failed.next_attempt_at is not None

    # A disabled endpoint is refused with a message; another mode's endpoint is not found.
    refused = client.post(resend_url, {"endpoint": off.public_id}, follow=True)
    assert "is disabled; enable it first" in refused.text
    assert not Delivery.objects.filter(event=event, endpoint=off).exists()
    assert client.post(resend_url, {"endpoint": live.public_id}).status_code == 404
    assert client.post(resend_url, {"endpoint": "we_nope"}).status_code == 404


# --- Stripe's events (inbound) -----------------------------------------------------------


def test_stripe_events_listed_shown_and_re_run(client, shops, django_capture_on_commit_callbacks):
    alpha = shops["Alpha"]
    merchant = alpha["merchant"]
    failed = _failed(_stripe_event(merchant, event_id="evt_failing", type="payment_intent.payment_failed"))
    _stripe_event(merchant, event_id="evt_live_only", livemode=True)
    client.force_login(alpha["admin"])

    listing = client.get(STRIPE_EVENTS)
    assert "evt_failing" in listing.text
    assert "evt_Alpha_1" in listing.text
    assert "evt_live_only" not in listing.text  # test mode in view
    assert "ProcessorError: Stripe is unreachable" in listing.text
    only_failed = client.get(STRIPE_EVENTS, {"status__exact": "failed"})
    assert "evt_failing" in only_failed.text
    assert "evt_Alpha_1" not in only_failed.text
    by_type = client.get(STRIPE_EVENTS, {"type": "payment_intent.succeeded"})
    assert "evt_Alpha_1" in by_type.text
    assert "evt_failing" not in by_type.text
    assert "evt_failing" in client.get(STRIPE_EVENTS, {"q": "evt_failing"}).text

    page = client.get(_url(STRIPE_EVENTS, failed))
    assert '"id": "evt_failing"' in html.unescape(page.text)  # the body, pretty
    assert "ProcessorError: &lt;unreachable&gt;" in page.text  # the traceback, escaped
    assert "Re-run</button>" in page.text

    rerun_url = _url(STRIPE_EVENTS, failed, "rerun")
    assert client.get(rerun_url).status_code == 405
    with django_capture_on_commit_callbacks() as queued:
        done = client.post(rerun_url, follow=True)
    assert "is queued to be applied again" in done.text
    failed.refresh_from_db()
    assert failed.status == ProcessorEvent.Status.RECEIVED
    assert len(queued) == 1

    # The list's action does the same for several; one being applied right now is reported, not re-run.
    second = _failed(_stripe_event(merchant, event_id="evt_failing_2"))
    busy = _stripe_event(merchant, event_id="evt_busy")
    ProcessorEvent.objects.filter(pk=busy.pk).update(status=ProcessorEvent.Status.PROCESSING)
    acted = client.post(
        STRIPE_EVENTS, {"action": "rerun_selected", "_selected_action": [second.pk, busy.pk]}, follow=True
    )
    assert "1 Stripe event queued" in acted.text
    assert "Stripe event evt_busy: This event is being applied right now." in acted.text
    second.refresh_from_db()
    busy.refresh_from_db()
    assert (second.status, busy.status) == ("received", "processing")


# --- Stripe credentials page ---------------------------------------------------------------


def test_stripe_credentials_show_the_webhook_url_to_register(client, shops):
    alpha = shops["Alpha"]
    merchant = alpha["merchant"]
    credential = merchant.processor_credentials.get(livemode=False)
    client.force_login(alpha["shop"].owner)
    page = client.get(f"/admin/merchants/processorcredential/{credential.pk}/change/")
    assert f"http://127.0.0.1:8000/webhooks/stripe/{merchant.public_id}/test/" in page.text
    assert "payment_intent.payment_failed" in page.text
    assert "Webhook URL for Stripe" not in client.get("/admin/merchants/processorcredential/add/").text
    client.post("/admin/switch/mode/", {"livemode": "1"})
    live = merchant.processor_credentials.get(livemode=True)
    page = client.get(f"/admin/merchants/processorcredential/{live.pk}/change/")
    assert f"/webhooks/stripe/{merchant.public_id}/live/" in page.text


# --- who sees and does what ---------------------------------------------------------------


def test_another_merchants_staff_find_nothing(client, shops):
    alpha, beta = shops["Alpha"], shops["Beta"]
    client.force_login(beta["admin"])
    for base in (ENDPOINTS, EVENTS, STRIPE_EVENTS):
        text = client.get(base).text
        assert "alpha.example" not in text
        assert alpha["event"].public_id not in text
        assert "evt_Alpha_1" not in text
        assert "Alpha" not in text

    pages = [
        _url(ENDPOINTS, alpha["endpoint"]),
        _url(EVENTS, alpha["event"]),
        _url(STRIPE_EVENTS, alpha["stripe_event"]),
    ]
    for page in pages:
        forged = client.get(page, follow=True)
        assert forged.redirect_chain == [("/admin/", 302)], page
        assert "Alpha" not in forged.text
    for page in (
        _url(ENDPOINTS, alpha["endpoint"], "roll"),
        _url(ENDPOINTS, alpha["endpoint"], "status"),
        _url(ENDPOINTS, alpha["endpoint"], "test"),
        _url(ENDPOINTS, alpha["endpoint"], "deliveries"),
        _url(EVENTS, alpha["event"], "resend"),
        _url(EVENTS, alpha["event"], "deliveries"),
        _url(STRIPE_EVENTS, alpha["stripe_event"], "rerun"),
    ):
        assert client.get(page).status_code == 404, page
        assert client.post(page, {"disabled": "1", "expire_old_in": "0"}).status_code == 404, page
    # Nor can Beta resend its own event to Alpha's endpoint.
    resend = client.post(_url(EVENTS, beta["event"], "resend"), {"endpoint": alpha["endpoint"].public_id})
    assert resend.status_code == 404
    changed = client.post(
        _url(ENDPOINTS, alpha["endpoint"]), {"url": "https://evil.example/", "enabled_events": ["*"], "metadata": "{}"}
    )
    assert changed.status_code in (302, 404)
    client.post(_url(ENDPOINTS, alpha["endpoint"], "delete"), {"post": "yes"})
    client.post(STRIPE_EVENTS, {"action": "rerun_selected", "_selected_action": [_failed(alpha["stripe_event"]).pk]})

    endpoint = WebhookEndpoint.objects.get(pk=alpha["endpoint"].pk)
    assert (endpoint.url, endpoint.status, endpoint.previous_secret_ciphertext) == (
        "https://alpha.example/hooks",
        "enabled",
        "",
    )
    assert not Delivery.objects.filter(endpoint=endpoint, resend_requested=True).exists()
    assert not Event.objects.filter(merchant=alpha["merchant"], type="webhook_endpoint.test").exists()
    assert ProcessorEvent.objects.get(pk=alpha["stripe_event"].pk).status == "failed"


def test_the_other_mode_is_not_found_either(client, shops):
    alpha = shops["Alpha"]
    live = _endpoint(alpha["merchant"], url="https://live.example/hooks", livemode=True)
    client.force_login(alpha["admin"])
    assert "live.example" not in client.get(ENDPOINTS).text
    assert client.get(_url(ENDPOINTS, live), follow=True).redirect_chain == [("/admin/", 302)]
    assert client.post(_url(ENDPOINTS, live, "test")).status_code == 404
    assert client.get(_url(ENDPOINTS, live, "deliveries")).status_code == 404
    assert client.get(_url(ENDPOINTS, alpha["endpoint"], "deliveries")).status_code == 200
    assert client.get(_url(EVENTS, alpha["event"], "deliveries")).status_code == 200
    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert "live.example" in client.get(ENDPOINTS).text
    assert "alpha.example" not in client.get(ENDPOINTS).text
    # A page left open in test mode stops finding its deliveries once the mode is switched elsewhere.
    assert client.get(_url(ENDPOINTS, alpha["endpoint"], "deliveries")).status_code == 404
    assert client.get(_url(EVENTS, alpha["event"], "deliveries")).status_code == 404
    assert client.get(_url(ENDPOINTS, live, "deliveries")).status_code == 200


def test_a_viewer_looks_but_cannot_roll_disable_resend_or_re_run(client, shops):
    alpha = shops["Alpha"]
    endpoint, event = alpha["endpoint"], alpha["event"]
    stripe_event = _failed(alpha["stripe_event"])
    client.force_login(factories.staff(alpha["merchant"], Membership.Role.VIEWER))

    page = client.get(_url(ENDPOINTS, endpoint))
    assert page.status_code == 200
    assert endpoint.secret_hint in page.text
    for button in ("Roll secret", "Send test event", ">Disable</button>", 'name="url"'):
        assert button not in page.text
    event_page = client.get(_url(EVENTS, event))
    assert event_page.status_code == 200
    assert 'id="kassa-resend"' not in event_page.text
    assert 'form="kassa-resend-form"' not in event_page.text
    assert ">Close</a>" in event_page.text
    # The deliveries panels refresh for viewers too: reading, never writing.
    for panel in (_url(ENDPOINTS, endpoint, "deliveries"), _url(EVENTS, event, "deliveries")):
        assert client.get(panel).status_code == 200, panel
        assert event.public_id in client.get(panel).text or endpoint.url in client.get(panel).text
        assert client.post(panel).status_code == 405, panel
    stripe_page = client.get(_url(STRIPE_EVENTS, stripe_event))
    assert stripe_page.status_code == 200
    assert "Re-run</button>" not in stripe_page.text
    assert "rerun_selected" not in client.get(STRIPE_EVENTS).text

    assert client.get(f"{ENDPOINTS}add/").status_code == 403
    assert client.post(f"{ENDPOINTS}add/", {"url": "https://x.example/", "enabled_events": ["*"]}).status_code == 403
    assert client.get(_url(ENDPOINTS, endpoint, "roll")).status_code == 403
    assert client.post(_url(ENDPOINTS, endpoint, "roll"), {"expire_old_in": "0"}).status_code == 403
    assert client.post(_url(ENDPOINTS, endpoint, "status"), {"disabled": "1"}).status_code == 403
    assert client.post(_url(ENDPOINTS, endpoint, "test")).status_code == 403
    changed = client.post(
        _url(ENDPOINTS, endpoint), {"url": "https://evil.example/", "enabled_events": ["*"], "metadata": "{}"}
    )
    assert changed.status_code == 403
    assert client.post(_url(ENDPOINTS, endpoint, "delete"), {"post": "yes"}).status_code == 403
    assert client.post(_url(EVENTS, event, "resend"), {"endpoint": endpoint.public_id}).status_code == 403
    assert client.post(_url(STRIPE_EVENTS, stripe_event, "rerun")).status_code == 403
    client.post(STRIPE_EVENTS, {"action": "rerun_selected", "_selected_action": [stripe_event.pk]})

    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.status, endpoint.previous_secret_ciphertext) == (
        "https://alpha.example/hooks",
        "enabled",
        "",
    )
    assert not Delivery.objects.filter(endpoint=endpoint, resend_requested=True).exists()
    assert not Event.objects.filter(type="webhook_endpoint.test").exists()
    stripe_event.refresh_from_db()
    assert stripe_event.status == "failed"


def test_developers_manage_endpoints(client, shops):
    alpha = shops["Alpha"]
    client.force_login(factories.staff(alpha["merchant"], Membership.Role.DEVELOPER))
    assert client.get(f"{ENDPOINTS}add/").status_code == 200
    client.post(_url(ENDPOINTS, alpha["endpoint"], "status"), {"disabled": "1"})
    alpha["endpoint"].refresh_from_db()
    assert alpha["endpoint"].status == "disabled"
