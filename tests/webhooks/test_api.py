"""``/v1/webhook_endpoints`` and ``/v1/events`` through stripe-python, unmodified.

Nothing consumes the delivery queue here (no worker runs), so a delivery that
was planned stays pending: that is what ``pending_webhooks`` shows.
"""

import time
from datetime import timedelta

import pytest
import requests
import stripe
from django.conf import settings

from tests import factories
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.services import delivery, outbox

# A public address literal: accepted in both modes without a DNS lookup.
PUBLIC = "https://93.184.215.14/hooks"
# A receiver on the developer's machine (nothing listens on port 9; nothing is sent in these tests).
LOOPBACK = "http://127.0.0.1:9/x"


@pytest.fixture
def api(kassa, shop):
    return kassa(shop.secret_key.secret)


def _retry(client: stripe.StripeClient, event_id: str, **params):
    """The Stripe CLI's ``events resend``: no typed method in stripe-python."""
    response = client.raw_request("post", f"/v1/events/{event_id}/retry", **params)
    return client.deserialize(response, api_mode="V1")


def _event_of(client: stripe.StripeClient, type: str) -> stripe.Event:
    [event] = client.v1.events.list(params={"type": type}).data
    return event


# --- webhook endpoints --------------------------------------------------------------


def test_create_an_endpoint_in_stripes_shape_with_its_secret_shown_once(api):
    endpoint = api.v1.webhook_endpoints.create(
        params={
            "url": PUBLIC,
            "enabled_events": ["customer.created", "payment_intent.succeeded"],
            "description": "Order system",
            "metadata": {"team": "shop"},
        }
    )
    assert isinstance(endpoint, stripe.WebhookEndpoint)
    assert endpoint.id.startswith("we_")
    assert (endpoint.object, endpoint.status, endpoint.url, endpoint.livemode, endpoint.application) == (
        "webhook_endpoint",
        "enabled",
        PUBLIC,
        False,
        None,
    )
    assert endpoint.enabled_events == ["customer.created", "payment_intent.succeeded"]
    assert (endpoint.description, endpoint.metadata.to_dict()) == ("Order system", {"team": "shop"})
    assert abs(endpoint.created - time.time()) < 60
    assert endpoint.secret.startswith("whsec_")
    assert len(endpoint.secret) > len("whsec_") + 20

    # The secret is never shown again: not on retrieve, list or update.
    shown_once = {k: v for k, v in endpoint.to_dict().items() if k != "secret"}
    again = api.v1.webhook_endpoints.retrieve(endpoint.id)
    assert again.to_dict() == shown_once
    [listed] = api.v1.webhook_endpoints.list().data
    assert listed.to_dict() == shown_once
    updated = api.v1.webhook_endpoints.update(endpoint.id, params={"description": "Orders"})
    assert "secret" not in updated
    assert updated.description == "Orders"

    everything = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    assert everything.enabled_events == ["*"]
    assert (everything.description, everything.metadata.to_dict()) == (None, {})
    assert everything.secret.startswith("whsec_")
    assert everything.secret != endpoint.secret


def test_update_url_events_description_metadata_and_disable_then_enable(api):
    endpoint = api.v1.webhook_endpoints.create(
        params={
            "url": PUBLIC,
            "enabled_events": ["customer.created"],
            "description": "v1",
            "metadata": {"team": "shop", "env": "staging"},
        }
    )
    updated = api.v1.webhook_endpoints.update(
        endpoint.id,
        params={
            "url": "https://93.184.215.14/v2/hooks",
            "enabled_events": ["product.created", "price.created"],
            "description": "",
            "metadata": {"env": "prod", "team": ""},
        },
    )
    assert updated.url == "https://93.184.215.14/v2/hooks"
    assert updated.enabled_events == ["product.created", "price.created"]
    assert updated.description is None
    assert updated.metadata.to_dict() == {"env": "prod"}
    assert updated.status == "enabled"

    disabled = api.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    assert disabled.status == "disabled"
    assert api.v1.webhook_endpoints.retrieve(endpoint.id).status == "disabled"
    enabled = api.v1.webhook_endpoints.update(endpoint.id, params={"disabled": False})
    assert enabled.status == "enabled"
    assert api.v1.webhook_endpoints.retrieve(endpoint.id).to_dict() == enabled.to_dict()


def test_disabling_an_already_disabled_endpoint_keeps_it_disabled(api):
    """``disabled=true`` says what the endpoint should be; sending it twice (a retry, a form) must not flip it."""
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    assert api.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True}).status == "disabled"
    again = api.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    assert again.status == "disabled"
    assert api.v1.webhook_endpoints.retrieve(endpoint.id).status == "disabled"


def test_endpoints_are_listed_newest_first_and_paged(api, kassa, other_shop, shop):
    made = [
        api.v1.webhook_endpoints.create(params={"url": f"{PUBLIC}/{i}", "enabled_events": ["*"]}).id for i in range(12)
    ]
    # Not this key's: another merchant's, and this merchant's live ones.
    kassa(other_shop.secret_key.secret).v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    kassa(factories.live_secret_key(shop.merchant)).v1.webhook_endpoints.create(
        params={"url": PUBLIC, "enabled_events": ["*"]}
    )

    first = api.v1.webhook_endpoints.list()
    assert (first.object, first.url, first.has_more) == ("list", "/v1/webhook_endpoints", True)
    assert [e.id for e in first.data] == made[::-1][:10]
    assert [e.id for e in first.auto_paging_iter()] == made[::-1]
    page = api.v1.webhook_endpoints.list(params={"limit": 5, "starting_after": made[7]})
    assert ([e.id for e in page.data], page.has_more) == (made[6:1:-1], True)
    last = api.v1.webhook_endpoints.list(params={"limit": 5, "starting_after": made[2]})
    assert ([e.id for e in last.data], last.has_more) == (made[1::-1], False)


def test_delete_an_endpoint(api):
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    kept = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    deleted = api.v1.webhook_endpoints.delete(endpoint.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (endpoint.id, "webhook_endpoint", True)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.webhook_endpoints.retrieve(endpoint.id)
    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    assert endpoint.id in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.webhook_endpoints.delete(endpoint.id)
    assert exc.value.http_status == 404
    assert [e.id for e in api.v1.webhook_endpoints.list().data] == [kept.id]


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"url": PUBLIC, "enabled_events": ["customer.exploded"]}, "enabled_events", "parameter_invalid"),
        ({"url": PUBLIC, "enabled_events": ["customer.created", "charge.nope"]}, "enabled_events", None),
        ({"url": PUBLIC, "enabled_events": []}, "enabled_events", None),  # stripe-python sends nothing for []
        ({"url": PUBLIC, "enabled_events": ""}, "enabled_events", None),  # Stripe's way to send an empty list
        ({"enabled_events": ["*"]}, "url", "parameter_missing"),
        ({"url": "", "enabled_events": ["*"]}, "url", None),
        ({"url": "not a url", "enabled_events": ["*"]}, "url", None),
        ({"url": "ftp://93.184.215.14/hooks", "enabled_events": ["*"]}, "url", None),
        ({"url": PUBLIC, "enabled_events": ["*"], "colour": "red"}, "colour", "parameter_unknown"),
        ({"url": PUBLIC, "enabled_events": ["*"], "disabled": True}, "disabled", "parameter_unknown"),
    ],
)
def test_endpoint_parameters_are_checked(api, params, param, code):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.webhook_endpoints.create(params=params)
    assert (exc.value.http_status, exc.value.param) == (400, param)
    if code:
        assert exc.value.code == code
    assert api.v1.webhook_endpoints.list().data == []


def test_an_update_is_checked_like_a_create(api):
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["customer.created"]})
    for params, param in (
        ({"enabled_events": ["nope.nothing"]}, "enabled_events"),
        ({"enabled_events": ""}, "enabled_events"),
        ({"url": "https://10.0.0.1/x"}, "url"),
        ({"secret": "whsec_mine"}, "secret"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.webhook_endpoints.update(endpoint.id, params=params)
        assert (exc.value.http_status, exc.value.param) == (400, param)
    unchanged = api.v1.webhook_endpoints.retrieve(endpoint.id)
    assert (unchanged.url, unchanged.enabled_events) == (PUBLIC, ["customer.created"])


# --- server-side request forgery ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "mentions"),
    [
        ("http://example.com/", "https"),
        ("https://127.0.0.1/x", "127.0.0.1"),
        ("https://10.0.0.1/x", "10.0.0.1"),
        ("https://localhost/x", "localhost"),
        ("https://169.254.169.254/", "169.254.169.254"),
    ],
)
def test_a_live_endpoint_must_be_https_at_a_public_address(kassa, shop, url, mentions):
    live = kassa(factories.live_secret_key(shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.webhook_endpoints.create(params={"url": url, "enabled_events": ["*"]})
    assert (exc.value.http_status, exc.value.param) == (400, "url")
    assert mentions in exc.value.user_message
    assert live.v1.webhook_endpoints.list().data == []

    # Nor can an accepted endpoint be moved there.
    endpoint = live.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    assert endpoint.livemode is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.webhook_endpoints.update(endpoint.id, params={"url": url})
    assert (exc.value.http_status, exc.value.param) == (400, "url")
    assert mentions in exc.value.user_message
    assert live.v1.webhook_endpoints.retrieve(endpoint.id).url == PUBLIC


def test_test_mode_takes_loopback_only_while_it_is_allowed_and_private_networks_never(api, settings):
    assert settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK  # the tests run with DEBUG, as development does
    local = api.v1.webhook_endpoints.create(params={"url": LOOPBACK, "enabled_events": ["*"]})
    assert (local.url, local.status) == (LOOPBACK, "enabled")

    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.webhook_endpoints.create(params={"url": "http://10.0.0.1/", "enabled_events": ["*"]})
    assert (exc.value.http_status, exc.value.param) == (400, "url")
    assert "10.0.0.1" in exc.value.user_message

    settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK = False  # production
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.webhook_endpoints.create(params={"url": LOOPBACK, "enabled_events": ["*"]})
    assert (exc.value.http_status, exc.value.param) == (400, "url")
    assert "loopback" in exc.value.user_message
    assert "127.0.0.1" in exc.value.user_message
    assert [e.id for e in api.v1.webhook_endpoints.list().data] == [local.id]


# --- whose endpoints, which mode, which key ---------------------------------------------


def test_another_merchants_endpoint_is_missing(api, kassa, other_shop):
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    theirs = kassa(other_shop.secret_key.secret)
    for call in (
        lambda: theirs.v1.webhook_endpoints.retrieve(endpoint.id),
        lambda: theirs.v1.webhook_endpoints.update(endpoint.id, params={"url": "https://93.184.215.14/stolen"}),
        lambda: theirs.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True}),
        lambda: theirs.v1.webhook_endpoints.delete(endpoint.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    assert theirs.v1.webhook_endpoints.list().data == []
    still = api.v1.webhook_endpoints.retrieve(endpoint.id)
    assert (still.url, still.status) == (PUBLIC, "enabled")


def test_test_and_live_endpoints_are_apart(api, kassa, shop):
    live = kassa(factories.live_secret_key(shop.merchant))
    live_endpoint = live.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    test_endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    assert (live_endpoint.livemode, test_endpoint.livemode) == (True, False)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.webhook_endpoints.retrieve(live_endpoint.id)
    assert exc.value.http_status == 404
    assert "live mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.webhook_endpoints.retrieve(test_endpoint.id)
    assert exc.value.http_status == 404
    assert "test mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.webhook_endpoints.delete(live_endpoint.id)
    assert [e.id for e in api.v1.webhook_endpoints.list().data] == [test_endpoint.id]
    assert [e.id for e in live.v1.webhook_endpoints.list().data] == [live_endpoint.id]


def test_restricted_keys_get_what_they_were_granted(api, kassa, shop):
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    api.v1.customers.create(params={"email": "a@example.com"})
    reader = kassa(factories.restricted_key(shop.merchant, {"webhook_endpoints": "read"}))
    assert [e.id for e in reader.v1.webhook_endpoints.list().data] == [endpoint.id]
    assert "secret" not in reader.v1.webhook_endpoints.retrieve(endpoint.id)
    for call in (
        lambda: reader.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]}),
        lambda: reader.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True}),
        lambda: reader.v1.webhook_endpoints.delete(endpoint.id),
    ):
        with pytest.raises(stripe.PermissionError) as exc:
            call()
        assert exc.value.http_status == 403
        assert "webhook_endpoints:write" in str(exc.value)
    with pytest.raises(stripe.PermissionError) as exc:
        reader.v1.events.list()  # no grant for events
    assert "events:read" in str(exc.value)

    event_reader = kassa(factories.restricted_key(shop.merchant, {"events": "read"}))
    assert [e.type for e in event_reader.v1.events.list().data] == ["customer.created"]
    with pytest.raises(stripe.PermissionError):
        event_reader.v1.webhook_endpoints.list()
    assert api.v1.webhook_endpoints.retrieve(endpoint.id).status == "enabled"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.v1.webhook_endpoints.list(),
        lambda c: c.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]}),
        lambda c: c.v1.webhook_endpoints.retrieve("we_x"),
        lambda c: c.v1.events.list(),
        lambda c: c.v1.events.retrieve("evt_x"),
    ],
)
def test_a_publishable_key_is_refused(kassa, shop, call):
    with pytest.raises(stripe.PermissionError) as exc:
        call(kassa(shop.publishable_key.secret))
    assert exc.value.http_status == 403


# --- events -------------------------------------------------------------------------


def test_a_new_customer_is_a_customer_created_event(api):
    customer = api.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada"}, options={"idempotency_key": "signup-ada-1"}
    )
    event = _event_of(api, "customer.created")
    assert isinstance(event, stripe.Event)
    assert event.id.startswith("evt_")
    assert (event.object, event.type, event.livemode, event.api_version) == (
        "event",
        "customer.created",
        False,
        settings.KASSA_API_VERSION,
    )
    assert event.pending_webhooks == 0  # no endpoint listens
    assert abs(event.created - time.time()) < 60
    assert event.data.object.to_dict() == api.v1.customers.retrieve(customer.id).to_dict()
    assert "previous_attributes" not in event.data
    # Which request caused it: the Request-Id the client saw, and the Idempotency-Key it sent.
    assert event.request.id.startswith("req_")
    assert event.request.id == customer.last_response.request_id
    assert event.request.idempotency_key == "signup-ada-1"

    retrieved = api.v1.events.retrieve(event.id)
    assert retrieved.to_dict() == event.to_dict()

    # stripe-python's own key (sent with every POST) is recorded too.
    other = api.v1.customers.create(params={"email": "bob@example.com"})
    latest = api.v1.events.list(params={"limit": 1}).data[0]
    assert latest.data.object.id == other.id
    assert latest.request.idempotency_key
    assert latest.request.idempotency_key != "signup-ada-1"


def test_a_request_replayed_by_its_idempotency_key_makes_no_second_event(api):
    first = api.v1.customers.create(params={"email": "once@example.com"}, options={"idempotency_key": "k-1"})
    again = api.v1.customers.create(params={"email": "once@example.com"}, options={"idempotency_key": "k-1"})
    assert again.id == first.id
    events = api.v1.events.list().data
    assert [(e.type, e.data.object.id) for e in events] == [("customer.created", first.id)]


def test_pending_webhooks_counts_the_deliveries_still_to_go(api):
    listening = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["customer.created"]})
    api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["product.created"]})
    customer = api.v1.customers.create(params={"email": "c@example.com"})
    api.v1.customers.update(customer.id, params={"name": "C"})
    assert _event_of(api, "customer.created").pending_webhooks == 0  # until a worker has planned them
    outbox.events_dispatch()  # what a worker does right after the commit

    created = _event_of(api, "customer.created")
    assert created.pending_webhooks == 2
    assert api.v1.events.retrieve(created.id).pending_webhooks == 2
    assert _event_of(api, "customer.updated").pending_webhooks == 1  # the "*" endpoint only
    # Disabling an endpoint drops what was queued for it.
    api.v1.webhook_endpoints.update(listening.id, params={"disabled": True})
    assert api.v1.events.retrieve(created.id).pending_webhooks == 1


def test_delivery_success_filters_and_pending_webhooks_stays_the_same(api, receiver):
    """An event's ``pending_webhooks`` is one number, whichever filter listed it."""
    delivered_to = [
        api.v1.webhook_endpoints.create(
            params={"url": receiver.plan(f"/ok-{name}"), "enabled_events": ["customer.created"]}
        )
        for name in ("a", "b")
    ]
    for name in ("c", "d"):  # these two wait for a worker that never comes
        api.v1.webhook_endpoints.create(params={"url": receiver.plan(f"/later-{name}"), "enabled_events": ["*"]})
    customer = api.v1.customers.create(params={"email": "d@example.com"})
    api.v1.customers.update(customer.id, params={"name": "D"})
    outbox.events_dispatch()
    # What a worker does for the first two endpoints: each gets customer.created, and answers 200.
    for endpoint in delivered_to:
        assert delivery.endpoint_deliver(endpoint_pk=WebhookEndpoint.objects.get(public_id=endpoint.id).pk) == 1
    assert len(receiver.received("/ok-a")) == len(receiver.received("/ok-b")) == 1

    created, updated = _event_of(api, "customer.created"), _event_of(api, "customer.updated")
    assert (created.pending_webhooks, updated.pending_webhooks) == (2, 2)
    assert api.v1.events.retrieve(created.id).pending_webhooks == 2

    succeeded = api.v1.events.list(params={"delivery_success": True}).data
    not_yet = api.v1.events.list(params={"delivery_success": False}).data
    assert {
        "delivery_success=true": [(e.id, e.pending_webhooks) for e in succeeded],
        "delivery_success=false": [(e.id, e.pending_webhooks) for e in not_yet],
    } == {
        "delivery_success=true": [(created.id, 2)],
        "delivery_success=false": [(updated.id, 2)],
    }


def test_events_are_listed_newest_first_and_filtered(api, kassa, shop):
    customer = api.v1.customers.create(params={"email": "a@example.com"})
    price = api.v1.prices.create(params={"product_data": {"name": "Tea"}, "currency": "eur", "unit_amount": 500})
    api.v1.customers.update(customer.id, params={"name": "A"})
    order = ["customer.updated", "price.created", "product.created", "customer.created"]

    listed = api.v1.events.list()
    assert (listed.object, listed.url, listed.has_more) == ("list", "/v1/events", False)
    assert [e.type for e in listed.data] == order
    assert [e.type for e in api.v1.events.list(params={"type": "customer.created"}).data] == ["customer.created"]
    assert [e.type for e in api.v1.events.list(params={"type": "customer.*"}).data] == [
        "customer.updated",
        "customer.created",
    ]
    assert api.v1.events.list(params={"type": "customer"}).data == []
    assert api.v1.events.list(params={"type": "invoice.paid"}).data == []
    by_types = api.v1.events.list(params={"types": ["product.created", "price.created"]})
    assert [e.type for e in by_types.data] == ["price.created", "product.created"]
    assert by_types.data[0].data.object.id == price.id
    assert by_types.data[1].data.object.id == price.product

    # The bracket form Stripe's docs show (types[]=…), as a plain HTTP client sends it.
    answer = requests.get(
        f"{kassa.url}/v1/events",
        params=[("types[]", "customer.created"), ("types[]", "customer.updated")],
        headers={"Authorization": f"Bearer {shop.secret_key.secret}"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert [e["type"] for e in answer.json()["data"]] == ["customer.updated", "customer.created"]

    page = api.v1.events.list(params={"limit": 2})
    assert ([e.type for e in page.data], page.has_more) == (order[:2], True)
    assert [e.type for e in page.auto_paging_iter()] == order
    rest = api.v1.events.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert ([e.type for e in rest.data], rest.has_more) == (order[2:], False)


def test_events_are_filtered_by_when_they_were_created(api):
    api.v1.customers.create(params={"email": "old@example.com"})
    old = _event_of(api, "customer.created")
    # An event from two hours ago (the row's time moved back: the clock is not the system under test).
    Event.objects.filter(public_id=old.id).update(
        created=Event.objects.get(public_id=old.id).created - timedelta(hours=2)
    )
    api.v1.products.create(params={"name": "New"})
    new = _event_of(api, "product.created")
    hour_ago = int(time.time()) - 3600

    assert [e.id for e in api.v1.events.list(params={"created": {"lt": hour_ago}}).data] == [old.id]
    assert [e.id for e in api.v1.events.list(params={"created": {"gte": hour_ago}}).data] == [new.id]
    both = api.v1.events.list(params={"created": {"gte": hour_ago - 3 * 3600, "lt": int(time.time()) + 60}})
    assert [e.id for e in both.data] == [new.id, old.id]
    assert api.v1.events.retrieve(old.id).created == old.created - 2 * 3600
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.events.list(params={"created": {"after": hour_ago}})
    assert exc.value.http_status == 400


def test_an_update_carries_the_old_values_of_what_changed(api):
    customer = api.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada", "phone": "+441234", "metadata": {"tier": "gold"}}
    )
    api.v1.customers.update(customer.id, params={"name": "Ada Lovelace", "email": "ada@lovelace.example"})
    event = _event_of(api, "customer.updated")
    assert event.data.previous_attributes.to_dict() == {"name": "Ada", "email": "ada@example.com"}
    assert event.data.object.to_dict() == api.v1.customers.retrieve(customer.id).to_dict()
    assert (event.data.object.name, event.data.object.phone) == ("Ada Lovelace", "+441234")

    api.v1.customers.update(customer.id, params={"metadata": {"tier": "silver"}})
    latest = api.v1.events.list(params={"type": "customer.updated", "limit": 1}).data[0]
    assert latest.data.previous_attributes.to_dict() == {"metadata": {"tier": "gold"}}
    assert latest.data.object.metadata.to_dict() == {"tier": "silver"}


def test_another_merchants_events_are_missing(api, kassa, other_shop):
    api.v1.customers.create(params={"email": "mine@example.com"})
    mine = _event_of(api, "customer.created")
    theirs = kassa(other_shop.secret_key.secret)
    their_customer = theirs.v1.customers.create(params={"email": "theirs@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        theirs.v1.events.retrieve(mine.id)
    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    assert [e.data.object.id for e in theirs.v1.events.list().data] == [their_customer.id]
    assert [e.id for e in api.v1.events.list().data] == [mine.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.events.retrieve("evt_doesnotexist")
    assert exc.value.http_status == 404


def test_test_and_live_events_are_apart(api, kassa, shop):
    live = kassa(factories.live_secret_key(shop.merchant))
    live_customer = live.v1.customers.create(params={"email": "live@example.com"})
    api.v1.customers.create(params={"email": "test@example.com"})
    [live_event] = live.v1.events.list().data
    [test_event] = api.v1.events.list().data
    assert (live_event.livemode, live_event.data.object.id, live_event.data.object.livemode) == (
        True,
        live_customer.id,
        True,
    )
    assert test_event.livemode is False
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.events.retrieve(live_event.id)
    assert exc.value.http_status == 404
    assert "live mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.events.retrieve(test_event.id)
    assert exc.value.http_status == 404


# --- resending ------------------------------------------------------------------------


def test_resend_an_event_to_one_endpoint(api):
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["product.created"]})
    customer = api.v1.customers.create(params={"email": "r@example.com"})
    outbox.events_dispatch()
    event = _event_of(api, "customer.created")
    assert event.pending_webhooks == 0  # the endpoint does not listen for it
    assert not Delivery.objects.exists()

    resent = _retry(api, event.id, webhook_endpoint=endpoint.id)
    assert isinstance(resent, stripe.Event)
    assert (resent.id, resent.type, resent.data.object.id) == (event.id, "customer.created", customer.id)
    assert resent.pending_webhooks == 1
    delivery = Delivery.objects.get()
    assert (delivery.event.public_id, delivery.endpoint.public_id) == (event.id, endpoint.id)
    assert (delivery.status, delivery.resend_requested) == (Delivery.Status.PENDING, True)
    assert api.v1.events.retrieve(event.id).pending_webhooks == 1

    # Resending again (or an event already queued for the endpoint) queues it once, not twice.
    _retry(api, event.id, webhook_endpoint=endpoint.id)
    assert Delivery.objects.count() == 1
    api.v1.products.create(params={"name": "Tea"})
    outbox.events_dispatch()
    product_event = _event_of(api, "product.created")
    assert product_event.pending_webhooks == 1
    assert _retry(api, product_event.id, webhook_endpoint=endpoint.id).pending_webhooks == 1
    assert Delivery.objects.filter(event__public_id=product_event.id, resend_requested=True).count() == 1


def test_resend_needs_an_enabled_endpoint_of_this_merchant_and_mode(api, kassa, shop, other_shop):
    api.v1.customers.create(params={"email": "r@example.com"})
    event = _event_of(api, "customer.created")
    disabled = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    api.v1.webhook_endpoints.update(disabled.id, params={"disabled": True})
    theirs = kassa(other_shop.secret_key.secret).v1.webhook_endpoints.create(
        params={"url": PUBLIC, "enabled_events": ["*"]}
    )
    live = kassa(factories.live_secret_key(shop.merchant)).v1.webhook_endpoints.create(
        params={"url": PUBLIC, "enabled_events": ["*"]}
    )
    for endpoint_id, code, says in (
        ("we_doesnotexist", "resource_missing", "we_doesnotexist"),
        (theirs.id, "resource_missing", theirs.id),
        (live.id, "resource_missing", "live mode"),
        (disabled.id, None, "disabled"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            _retry(api, event.id, webhook_endpoint=endpoint_id)
        assert (exc.value.http_status, exc.value.param) == (400, "webhook_endpoint")
        if code:
            assert exc.value.code == code
        assert says in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _retry(api, event.id)
    assert (exc.value.http_status, exc.value.param) == (400, "webhook_endpoint")
    enabled = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _retry(api, "evt_doesnotexist", webhook_endpoint=enabled.id)
    assert exc.value.http_status == 404
    # Another merchant cannot resend this merchant's event, even to its own endpoint.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _retry(kassa(other_shop.secret_key.secret), event.id, webhook_endpoint=theirs.id)
    assert exc.value.http_status == 404
    reader = kassa(factories.restricted_key(shop.merchant, {"webhook_endpoints": "read", "events": "read"}))
    with pytest.raises(stripe.PermissionError):
        _retry(reader, event.id, webhook_endpoint=enabled.id)
    assert not Delivery.objects.exists()


def test_resend_needs_read_access_to_events_too(api, kassa, shop):
    """It answers with the event (customer details and all): managing endpoints alone is not enough."""
    endpoint = api.v1.webhook_endpoints.create(params={"url": PUBLIC, "enabled_events": ["*"]})
    api.v1.customers.create(params={"email": "secret@example.com"})
    event = _event_of(api, "customer.created")
    manager = kassa(factories.restricted_key(shop.merchant, {"webhook_endpoints": "write"}))
    with pytest.raises(stripe.PermissionError) as exc:
        _retry(manager, event.id, webhook_endpoint=endpoint.id)
    assert "events:read" in str(exc.value)
    both = kassa(factories.restricted_key(shop.merchant, {"webhook_endpoints": "write", "events": "read"}))
    assert _retry(both, event.id, webhook_endpoint=endpoint.id).id == event.id


def test_an_update_that_changes_nothing_sends_no_event(api):
    customer = api.v1.customers.create(params={"email": "same@example.com", "name": "Ann"})
    api.v1.customers.update(customer.id, params={"name": "Ann"})
    assert [e.type for e in api.v1.events.list().data] == ["customer.created"]
    api.v1.customers.update(customer.id, params={"name": "Bea"})
    assert [e.type for e in api.v1.events.list().data] == ["customer.updated", "customer.created"]
