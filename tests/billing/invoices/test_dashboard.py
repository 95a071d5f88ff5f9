"""Tax rates in the dashboard: typed as people write them, scoped like everything else."""

from decimal import Decimal

import pytest

from billing.invoices import services
from billing.models import TaxRate
from merchants.models import Membership
from tests import factories
from webhooks.models import Event

RATES = "/admin/billing/taxrate/"


def _form(**fields) -> dict:
    return {
        "display_name": "TVA",
        "percentage": "20",
        "inclusive": "exclusive",
        "country": "",
        "state": "",
        "jurisdiction": "",
        "tax_type": "",
        "description": "",
        "active": "on",
        **fields,
    }


def _change(rate) -> str:
    return f"{RATES}{rate.pk}/change/"


@pytest.mark.parametrize(
    ("typed", "inclusive", "stored", "shown"),
    [
        ("20", "exclusive", "20", "20 %"),
        ("5.5", "inclusive", "5.5", "5.5 %"),
        ("8.875", "exclusive", "8.875", "8.875 %"),
    ],
)
def test_a_tax_rate_typed_as_a_decimal(client, shop, typed, inclusive, stored, shown):
    client.force_login(shop.owner)
    add = client.get(f"{RATES}add/")
    assert add.status_code == 200
    assert "Exclusive: added on top of the price" in add.text
    assert "Inclusive: already included in the price" in add.text
    assert '<option value="FR">France (FR)</option>' in add.text

    made = client.post(
        f"{RATES}add/",
        _form(
            percentage=typed,
            inclusive=inclusive,
            country="FR",
            tax_type="vat",
            **{"metadata-key": "gl", "metadata-value": "44571"},
        ),
    )
    assert made.status_code == 302, made.text[:3000]
    rate = TaxRate.objects.get()
    assert (rate.merchant, rate.livemode, rate.percentage, rate.inclusive) == (
        shop.merchant,
        False,
        Decimal(stored),
        inclusive == "inclusive",
    )
    assert (rate.country, rate.tax_type, rate.metadata) == ("FR", "vat", {"gl": "44571"})
    assert Event.objects.filter(merchant=shop.merchant, type="tax_rate.created").count() == 1

    listing = client.get(RATES).text
    assert shown in listing
    assert ("Inclusive" if inclusive == "inclusive" else "Exclusive") in listing
    page = client.get(_change(rate)).text
    assert shown in page
    assert 'name="percentage"' not in page  # fixed once made
    assert 'name="inclusive"' not in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"percentage": "101"}, "less than or equal to 100"),
        ({"percentage": "-1"}, "greater than or equal to 0"),
        ({"percentage": "5.12345"}, "4 decimal places"),
        ({"percentage": "abc"}, "Enter a number."),
        ({"country": "XX"}, "Select a valid choice."),
        ({"display_name": ""}, "This field is required."),
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_written(client, shop, fields, error):
    client.force_login(shop.owner)
    page = client.post(f"{RATES}add/", _form(**fields))
    assert page.status_code == 200
    assert error in page.text
    assert not TaxRate.objects.exists()


def test_a_change_keeps_the_percentage_and_archiving_is_the_only_removal(client, shop):
    rate = services.tax_rate_create(
        merchant=shop.merchant, livemode=False, display_name="VAT", percentage="20", inclusive=False, country="DE"
    )
    client.force_login(shop.owner)
    page = client.get(_change(rate))
    assert '<option value="DE" selected>' in page.text
    changed = client.post(
        _change(rate), _form(display_name="MwSt", country="DE", percentage="7", inclusive="inclusive", active="")
    )
    assert changed.status_code == 302, changed.text[:3000]
    rate.refresh_from_db()
    assert (rate.display_name, rate.active, rate.percentage, rate.inclusive) == ("MwSt", False, Decimal(20), False)
    event = Event.objects.get(type="tax_rate.updated")
    assert event.data["previous_attributes"] == {"active": True, "display_name": "VAT"}
    assert client.get(f"{RATES}{rate.pk}/delete/").status_code == 403
    assert "delete_selected" not in client.get(RATES).text


def test_viewers_see_but_cannot_write(client, shop):
    rate = services.tax_rate_create(
        merchant=shop.merchant, livemode=False, display_name="VAT", percentage="20", inclusive=False
    )
    client.force_login(factories.staff(shop.merchant, Membership.Role.VIEWER))
    assert client.get(RATES).status_code == 200
    assert client.get(_change(rate)).status_code == 200
    assert client.get(f"{RATES}add/").status_code == 403
    assert client.post(f"{RATES}add/", _form()).status_code == 403
    client.post(_change(rate), _form(display_name="Hacked"))
    rate.refresh_from_db()
    assert rate.display_name == "VAT"
    assert TaxRate.objects.count() == 1


def test_other_merchants_and_the_other_mode_see_nothing(client, shop, other_shop):
    test_rate = services.tax_rate_create(
        merchant=shop.merchant, livemode=False, display_name="Test VAT", percentage="20", inclusive=False
    )
    live_rate = services.tax_rate_create(
        merchant=shop.merchant, livemode=True, display_name="Live VAT", percentage="19", inclusive=False
    )
    client.force_login(other_shop.owner)
    assert "Test VAT" not in client.get(RATES).text
    assert client.get(_change(test_rate), follow=True).redirect_chain == [("/admin/", 302)]

    client.force_login(shop.owner)
    listing = client.get(RATES).text
    assert "Test VAT" in listing
    assert "Live VAT" not in listing
    assert client.get(_change(live_rate), follow=True).redirect_chain == [("/admin/", 302)]
    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert "Live VAT" in client.get(RATES).text
    client.post(f"{RATES}add/", _form(display_name="Made live"))
    assert TaxRate.objects.get(display_name="Made live").livemode is True


def test_the_menu_lists_tax_rates_with_products(client, shop):
    client.force_login(shop.owner)
    home = client.get("/admin/").text
    products = home.index(">Products<")
    assert products < home.index(RATES)


def test_the_french_form(client, shop):
    client.force_login(shop.owner)
    page = client.get(f"{RATES}add/", HTTP_ACCEPT_LANGUAGE="fr")
    assert '<option value="DE">Allemagne (DE)</option>' in page.text
    assert "Déjà incluse dans le prix (prix TTC)" in page.text


def test_webhook_endpoints_can_listen_for_tax_rate_events(client, shop):
    client.force_login(shop.owner)
    page = client.get("/admin/webhooks/webhookendpoint/add/").text
    group = page.index("Tax rates")
    assert group < page.index('value="tax_rate.created"') < page.index('value="tax_rate.updated"')
