"""Settings → Failed payments: the retry schedule and the final actions, per mode; owners and admins change them."""

import pytest

from billing.invoices import services
from billing.models import DunningSettings
from kassa.errors import InvalidRequest
from merchants.models import Membership
from tests import factories

PAGE = "/admin/billing/dunningsettings/"


def _open(client, user) -> tuple[str, DunningSettings]:
    client.force_login(user)
    response = client.get(PAGE, follow=True)
    assert response.status_code == 200
    url = response.redirect_chain[-1][0]
    return url, DunningSettings.objects.get(pk=int(url.rstrip("/").split("/")[-2]))


def _form(**fields) -> dict:
    return {
        "retry_days": "1, 3, 5, 7",
        "overdue_days": "",
        "subscription_action": "cancel",
        "invoice_action": "leave_open",
        **fields,
    }


def test_an_owner_sees_stripes_defaults_and_sets_a_schedule_and_final_actions(client, shop):
    url, settings = _open(client, shop.owner)
    assert (settings.merchant, settings.livemode) == (shop.merchant, False)
    page = client.get(url).text
    assert 'value="1, 3, 5, 7"' in page
    assert "Leave the invoice open" in page
    response = client.post(
        url, _form(retry_days="2; 4, 10", subscription_action="unpaid", invoice_action="mark_uncollectible")
    )
    assert response.status_code == 302, response.text
    settings.refresh_from_db()
    assert (settings.retry_days, settings.subscription_action, settings.invoice_action) == (
        [2, 4, 10],
        "unpaid",
        "mark_uncollectible",
    )
    response = client.post(url, _form(retry_days=""))  # no retry at all
    settings.refresh_from_db()
    assert settings.retry_days == []


def test_a_bad_schedule_is_shown_on_the_form_and_nothing_is_written(client, shop):
    url, settings = _open(client, shop.owner)
    for days, error in [
        ("3, 1", "after the one before it"),
        ("1, 61", "1 to 60 days"),
        ("0", "1 to 60 days"),
        ("1, 2, 3, 4, 5, 6, 7, 8, 9", "At most 8 retries"),
        ("1, two", "whole numbers of days"),
    ]:
        response = client.post(url, _form(retry_days=days, invoice_action="mark_uncollectible"))
        assert response.status_code == 200
        assert error in response.text
        settings.refresh_from_db()
        assert (settings.retry_days, settings.invoice_action) == ([1, 3, 5, 7], "leave_open")


def test_an_owner_sets_the_days_after_which_an_emailed_invoice_unpaid_gets_the_final_actions(client, shop):
    url, settings = _open(client, shop.owner)
    assert settings.overdue_days is None  # by default never: the subscription stays past due
    assert "Invoices sent to customers" in client.get(url).text
    response = client.post(url, _form(overdue_days="30"))
    assert response.status_code == 302, response.text
    settings.refresh_from_db()
    assert settings.overdue_days == 30
    for bad in ("0", "91", "ten"):
        response = client.post(url, _form(overdue_days=bad))
        assert response.status_code == 200, bad
        settings.refresh_from_db()
        assert settings.overdue_days == 30
    client.post(url, _form(overdue_days=""))
    settings.refresh_from_db()
    assert settings.overdue_days is None


def test_test_and_live_mode_have_their_own_settings(client, shop):
    url, test_settings = _open(client, shop.owner)
    client.post(url, _form(retry_days="2"))
    test_settings.refresh_from_db()
    assert test_settings.retry_days == [2]
    client.post("/admin/switch/mode/", {"livemode": "1"})
    live_url, live_settings = _open(client, shop.owner)
    assert live_url != url
    assert live_settings.livemode is True
    assert 'value="1, 3, 5, 7"' in client.get(live_url).text
    assert client.get(url, follow=True).redirect_chain == [("/admin/", 302)]  # the test row, in live mode


def test_members_read_but_cannot_change(client, shop):
    for role in (Membership.Role.VIEWER, Membership.Role.DEVELOPER):
        url, settings = _open(client, factories.staff(shop.merchant, role))
        assert "1, 3, 5, 7" in client.get(url).text
        client.post(url, _form(retry_days="30", invoice_action="mark_uncollectible"))
        settings.refresh_from_db()
        assert (settings.retry_days, settings.invoice_action) == ([1, 3, 5, 7], "leave_open")


def test_another_merchants_staff_cannot_see_or_change_them(client, shop, other_shop):
    theirs = services.dunning_settings_update(merchant=other_shop.merchant, livemode=False, retry_days=[9])
    client.force_login(shop.owner)
    assert client.get(f"{PAGE}{theirs.pk}/change/", follow=True).redirect_chain == [("/admin/", 302)]
    client.post(f"{PAGE}{theirs.pk}/change/", _form(retry_days="1"))
    theirs.refresh_from_db()
    assert theirs.retry_days == [9]


def test_the_settings_menu_links_to_the_page(client, shop):
    client.force_login(shop.owner)
    home = client.get("/admin/").text
    assert home.index(">Settings<") < home.index(PAGE)
    assert "Failed payments" in home


def test_the_service_refuses_days_after_the_due_date_out_of_bounds(shop):
    for bad in (0, 91, True, "30", 2.5):
        with pytest.raises(InvalidRequest) as refused:
            services.dunning_settings_update(merchant=shop.merchant, livemode=False, overdue_days=bad)
        assert refused.value.param == "overdue_days"
    assert services.dunning_settings_for(merchant=shop.merchant, livemode=False).overdue_days is None
    services.dunning_settings_update(merchant=shop.merchant, livemode=False, overdue_days=90)
    assert services.dunning_settings_for(merchant=shop.merchant, livemode=False).overdue_days == 90
