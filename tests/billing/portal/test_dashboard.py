"""Settings → Customer portal in the dashboard: owners and admins change it, other members read it."""

import pytest

from billing.models import PortalConfiguration
from billing.portal import services
from merchants.models import Membership
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = "/admin/billing/portalconfiguration/"


def _form(**fields) -> dict:
    return {
        "payment_method_update": "on",
        "invoice_history": "on",
        "headline": "",
        "privacy_policy_url": "",
        "terms_of_service_url": "",
        "default_return_url": "",
        **fields,
    }


def _open(client, user) -> tuple[str, PortalConfiguration]:
    client.force_login(user)
    response = client.get(PAGE, follow=True)
    assert response.status_code == 200
    url = response.redirect_chain[-1][0]
    return url, PortalConfiguration.objects.get(pk=int(url.rstrip("/").split("/")[-2]))


def test_an_owner_turns_features_on_and_fills_in_the_business_details(client, shop):
    tea = factories.price(shop.merchant, recurring={"interval": "month"})
    one_off = factories.price(shop.merchant)
    url, configuration = _open(client, shop.owner)
    assert (configuration.merchant, configuration.livemode) == (shop.merchant, False)
    page = client.get(url).text
    assert "Customer portal" in page
    assert f'value="{tea.pk}"' in page
    assert f'value="{one_off.pk}"' not in page
    response = client.post(
        url,
        _form(
            customer_update_email="on",
            customer_update_address="on",
            subscription_cancel="on",
            cancellation_reasons=["too_expensive", "other"],
            subscription_update="on",
            subscription_update_prices=[str(tea.pk)],
            subscription_update_quantity="on",
            headline="Your tea club",
            privacy_policy_url="https://shop.example/privacy",
            default_return_url="https://shop.example/account",
        ),
    )
    assert response.status_code == 302, response.text
    configuration.refresh_from_db()
    assert configuration.customer_update_email
    assert configuration.customer_update_address
    assert configuration.subscription_cancel
    assert configuration.subscription_update
    assert configuration.subscription_update_quantity
    assert configuration.cancellation_reasons == ["too_expensive", "other"]
    assert list(configuration.subscription_update_prices.all()) == [tea]
    assert (configuration.headline, configuration.default_return_url) == (
        "Your tea club",
        "https://shop.example/account",
    )
    # Bad input is shown on the form and nothing is written.
    response = client.post(url, _form(headline="x" * 61, default_return_url="ftp://shop.example"))
    assert response.status_code == 200
    configuration.refresh_from_db()
    assert configuration.headline == "Your tea club"
    # Quantity changes (or plan switches) with no price ticked would offer nothing (the portal changes subscriptions
    # to the listed prices' products only): refused, nothing written.
    for feature in ("subscription_update_quantity", "subscription_update"):
        response = client.post(url, _form(**{feature: "on"}, headline="Changed"))
        assert response.status_code == 200, feature
        assert "Tick the prices customers may change to" in response.text
        configuration.refresh_from_db()
        assert configuration.headline == "Your tea club"
        assert list(configuration.subscription_update_prices.all()) == [tea]


def test_test_and_live_have_their_own_settings(client, shop):
    url, _test = _open(client, shop.owner)
    client.post(url, _form(headline="Test portal"))
    client.post("/admin/switch/mode/", {"livemode": "1"})
    live_url, live = _open(client, shop.owner)
    assert live_url != url
    assert live.livemode is True
    assert live.headline == ""


@pytest.mark.parametrize("role", [Membership.Role.VIEWER, Membership.Role.DEVELOPER])
def test_other_members_read_but_cannot_change(client, shop, role):
    configuration = services.portal_configuration_for(merchant=shop.merchant, livemode=False)
    services.portal_configuration_update(configuration=configuration, headline="Our portal")
    url, _ = _open(client, factories.staff(shop.merchant, role))
    page = client.get(url).text
    assert "Our portal" in page
    assert 'name="headline"' not in page  # read-only
    client.post(url, _form(headline="Hacked"))
    configuration.refresh_from_db()
    assert configuration.headline == "Our portal"


def test_an_admin_may_change_it(client, shop):
    url, configuration = _open(client, factories.staff(shop.merchant, Membership.Role.ADMIN))
    assert client.post(url, _form(headline="By the admin")).status_code == 302
    configuration.refresh_from_db()
    assert configuration.headline == "By the admin"


def test_another_merchants_settings_are_missing(client, shop, other_shop):
    theirs = services.portal_configuration_update(
        configuration=services.portal_configuration_for(merchant=other_shop.merchant, livemode=False),
        headline="Other's portal",
    )
    client.force_login(shop.owner)
    assert client.get(f"{PAGE}{theirs.pk}/change/", follow=True).redirect_chain == [("/admin/", 302)]
    client.post(f"{PAGE}{theirs.pk}/change/", _form(headline="Hacked"))
    theirs.refresh_from_db()
    assert theirs.headline == "Other's portal"
