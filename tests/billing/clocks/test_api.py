"""Test clocks through stripe-python: create, list, retrieve, advance, delete; test mode only."""

import time

import pytest
import stripe

from tests import factories
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=False)


def _clock_events(clock_id: str) -> list[str]:
    return [
        e.type
        for e in Event.objects.filter(type__startswith="test_helpers.test_clock.").order_by("pk")
        if e.data["object"]["id"] == clock_id
    ]


def test_create_retrieve_list_advance_delete(api, emails_on_commit):
    frozen = int(time.time()) - 86400
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": frozen, "name": "Year one"})
    assert clock.id.startswith("clock_")
    assert (clock.object, clock.status, clock.frozen_time, clock.name) == (
        "test_helpers.test_clock",
        "ready",
        frozen,
        "Year one",
    )
    # 30 days after it was made, on the real clock (not its frozen time, a day in the past here).
    assert clock.deletes_after == clock.created + 30 * 86400
    assert clock.livemode is False
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time == frozen
    assert [c.id for c in api.v1.test_helpers.test_clocks.list().data] == [clock.id]

    with emails_on_commit():
        advancing = api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": frozen + 7200})
    assert advancing.status == "advancing"
    assert advancing.status_details.advancing.target_frozen_time == frozen + 7200
    ready = api.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert (ready.status, ready.frozen_time) == ("ready", frozen + 7200)
    assert ready.deletes_after == clock.deletes_after  # advancing does not put it off
    assert ready.status_details.to_dict() == {}

    deleted = api.v1.test_helpers.test_clocks.delete(clock.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert exc.value.http_status == 404
    assert _clock_events(clock.id) == [
        "test_helpers.test_clock.created",
        "test_helpers.test_clock.advancing",
        "test_helpers.test_clock.ready",
        "test_helpers.test_clock.deleted",
    ]


def test_frozen_time_must_move_forward(api):
    frozen = int(time.time())
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": frozen})
    for bad in (frozen, frozen - 60):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": bad})
        assert exc.value.param == "frozen_time"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": frozen + 3 * 366 * 86400})
    assert exc.value.param == "frozen_time"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.test_helpers.test_clocks.create(params={"name": "No time"})
    assert exc.value.param == "frozen_time"
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"


def test_live_mode_is_refused(kassa, paying_shop):
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    for call in (
        lambda: live.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())}),
        live.v1.test_helpers.test_clocks.list,
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert exc.value.http_status == 400
        assert "test mode" in exc.value.user_message


def test_a_customer_on_a_clock(api, kassa, paying_shop, other_shop):
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    customer = api.v1.customers.create(params={"email": "clock@example.com", "test_clock": clock.id})
    assert customer.test_clock == clock.id
    expanded = api.v1.customers.retrieve(customer.id, params={"expand": ["test_clock"]})
    assert expanded.test_clock.id == clock.id
    # Set on create only, as at Stripe.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.update(customer.id, params={"test_clock": clock.id})
    assert exc.value.param == "test_clock"
    # Another merchant's clock is no such clock.
    other = kassa(other_shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        other.v1.customers.create(params={"test_clock": clock.id})
    assert (exc.value.param, exc.value.code) == ("test_clock", "resource_missing")
    # A clock with customers is not deleted (Kassa keeps their invoices); once they are gone, it is.
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.test_helpers.test_clocks.delete(clock.id)
    api.v1.customers.delete(customer.id)
    assert api.v1.test_helpers.test_clocks.delete(clock.id).deleted is True


def test_a_frozen_time_past_what_a_clock_can_hold_is_refused(api):
    """Year 9999 would overflow deletes_after (30 days on): a 400 naming frozen_time, never a 500."""
    for frozen in (253402214400, 253400000000):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.test_helpers.test_clocks.create(params={"frozen_time": frozen})
        assert (exc.value.http_status, exc.value.param) == (400, "frozen_time")
    late = api.v1.test_helpers.test_clocks.create(params={"frozen_time": 253400000000 - 40 * 86400})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.test_helpers.test_clocks.advance(late.id, params={"frozen_time": 253400000000})
    assert (exc.value.http_status, exc.value.param) == (400, "frozen_time")
    assert api.v1.test_helpers.test_clocks.retrieve(late.id).status == "ready"


def test_a_clock_is_not_deleted_while_it_still_drives_invoices(api, stripe_backend):
    """Deleting it would hand them to beat's wall clock, which would charge them: void or settle them first."""
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    customer = api.v1.customers.create(params={"email": "clock@example.com", "test_clock": clock.id})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 1500, "currency": "eur"})
    invoice = api.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include"})
    api.v1.invoices.finalize_invoice(invoice.id)
    api.v1.customers.delete(customer.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.test_helpers.test_clocks.delete(clock.id)
    assert exc.value.http_status == 400
    assert "void or settle" in exc.value.user_message
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"
    api.v1.invoices.void_invoice(invoice.id)
    assert api.v1.test_helpers.test_clocks.delete(clock.id).deleted is True
