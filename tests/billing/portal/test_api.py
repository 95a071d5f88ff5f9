"""Customer portal sessions through stripe-python, unmodified: create, and every key that must not."""

import pytest
import requests
import stripe

from billing.models import PortalSession
from billing.portal import services
from tests import factories
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=False)

RETURN_URL = "https://shop.example/account"


def test_create_answers_stripes_shape_with_a_url_that_opens_the_portal(api, customer, kassa, settings):
    settings.KASSA_PUBLIC_URL = kassa.url
    session = api.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": RETURN_URL, "locale": "fr"}
    )
    assert isinstance(session, stripe.billing_portal.Session)
    assert session.id.startswith("bps_")
    assert session.configuration.startswith("bpc_")
    assert (session.object, session.customer, session.return_url, session.locale, session.livemode) == (
        "billing_portal.session",
        customer.id,
        RETURN_URL,
        "fr",
        False,
    )
    assert session.flow is None
    assert session.on_behalf_of is None
    assert session.after_expiration is None
    assert session.url.startswith(f"{kassa.url}/portal/")
    token = session.url.rsplit("/", 1)[1]
    assert len(token) >= 40
    assert token not in session.id
    # The URL opens the portal, in the session's language, with the way back to the shop.
    page = requests.get(session.url, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Language"] == "fr"
    assert RETURN_URL in page.text
    assert "Ada" in page.text
    # The event carries the session, but not its URL (the customer's credential).
    [event] = Event.objects.filter(type="billing_portal.session.created")
    assert event.data["object"]["id"] == session.id
    assert event.data["object"]["customer"] == customer.id
    assert event.data["object"]["url"] is None


def test_return_url_defaults_to_the_settings_and_is_required_without_them(api, customer, paying_shop):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.billing_portal.sessions.create(params={"customer": customer.id})
    assert (exc.value.code, exc.value.param) == ("parameter_missing", "return_url")
    configuration = services.portal_configuration_for(merchant=paying_shop.merchant, livemode=False)
    services.portal_configuration_update(configuration=configuration, default_return_url="https://shop.example/me")
    session = api.v1.billing_portal.sessions.create(params={"customer": customer.id})
    assert session.return_url == "https://shop.example/me"
    for bad in ("javascript:alert(1)", "/relative", "https://" + "a" * 2050):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": bad})
        assert exc.value.param == "return_url"


def test_unsupported_and_unknown_parameters_are_refused(api, customer):
    for params, code in (
        ({"configuration": "bpc_123"}, "parameter_unknown"),
        ({"flow_data": {"type": "payment_method_update"}}, "parameter_unknown"),
        ({"locale": "de"}, None),
        ({"colour": "green"}, "parameter_unknown"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": RETURN_URL, **params})
        if code:
            assert exc.value.code == code
    # Stripe's own parameters are named as not supported yet, not as typos.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.billing_portal.sessions.create(
            params={"customer": customer.id, "return_url": RETURN_URL, "configuration": "bpc_123"}
        )
    assert "does not support yet" in exc.value.user_message
    assert not PortalSession.objects.exists()


def test_another_merchants_customer_is_missing(api, kassa, other_shop):
    theirs = kassa(other_shop.secret_key.secret).v1.customers.create(params={"email": "b@other.example"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.billing_portal.sessions.create(params={"customer": theirs.id, "return_url": RETURN_URL})
    assert (exc.value.code, exc.value.param) == ("resource_missing", "customer")
    assert not PortalSession.objects.exists()


def test_a_deleted_customer_gets_no_portal(api, customer):
    api.v1.customers.delete(customer.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": RETURN_URL})
    assert exc.value.code == "resource_missing"


def test_a_publishable_key_is_refused(kassa, paying_shop, customer):
    publishable = kassa(paying_shop.publishable_key.secret)
    with pytest.raises(stripe.PermissionError) as exc:
        publishable.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": RETURN_URL})
    assert "publishable API key" in exc.value.user_message
    assert not PortalSession.objects.exists()


def test_a_live_key_does_not_reach_a_test_customer(kassa, paying_shop, customer):
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.billing_portal.sessions.create(params={"customer": customer.id, "return_url": RETURN_URL})
    assert (exc.value.code, exc.value.param) == ("resource_missing", "customer")
    assert not PortalSession.objects.exists()


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [({}, False), ({"billing_portal": "read"}, False), ({"billing_portal": "write"}, True)],
)
def test_a_restricted_key_needs_the_customer_portal_permission(kassa, paying_shop, customer, granted, allowed):
    api = kassa(factories.restricted_key(paying_shop.merchant, {"customers": "write", **granted}))
    create = lambda: api.v1.billing_portal.sessions.create(  # noqa: E731
        params={"customer": customer.id, "return_url": RETURN_URL}
    )
    if allowed:
        assert create().customer == customer.id
    else:
        with pytest.raises(stripe.PermissionError) as exc:
            create()
        assert "'billing_portal:write'" in exc.value.user_message
