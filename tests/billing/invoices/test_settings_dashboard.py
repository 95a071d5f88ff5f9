"""The merchant's invoice settings page: seller's legal details, logo, numbering and defaults."""

import io

from django.db import transaction

from billing.invoices import numbering
from billing.models import InvoiceSettings
from merchants.models import Membership
from tests import factories

PAGE = "/admin/billing/invoicesettings/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _form(settings: InvoiceSettings, **fields) -> dict:
    return {
        "legal_name": settings.legal_name,
        "address_line1": settings.address_line1,
        "address_line2": settings.address_line2,
        "postal_code": settings.postal_code,
        "city": settings.city,
        "state": settings.state,
        "country": settings.country,
        "vat_number": settings.vat_number,
        "support_email": settings.support_email,
        "prefix": settings.prefix,
        "next_number": "1",
        "footer": settings.footer,
        "days_until_due": str(settings.days_until_due),
        "default_locale": settings.default_locale,
        **fields,
    }


def _open(client, owner) -> tuple[str, InvoiceSettings]:
    client.force_login(owner)
    response = client.get(PAGE, follow=True)
    assert response.status_code == 200
    url = response.redirect_chain[-1][0]
    return url, InvoiceSettings.objects.get(pk=int(url.rstrip("/").split("/")[-2]))


def test_an_owner_fills_in_the_seller_details_logo_and_numbering(client, shop):
    url, settings = _open(client, shop.owner)
    assert settings.merchant == shop.merchant
    logo = io.BytesIO(PNG)
    logo.name = "logo.png"
    response = client.post(
        url,
        _form(
            settings,
            legal_name="Shop SAS",
            address_line1="1 rue de la Paix",
            postal_code="75002",
            city="Paris",
            country="FR",
            vat_number="FR 12 345678901",
            prefix="SHOP",
            next_number="42",
            days_until_due="14",
            default_locale="fr",
            footer="Pénalités de retard : 3 fois le taux d'intérêt légal.",
            logo_file=logo,
        ),
    )
    assert response.status_code == 302, response.text
    settings.refresh_from_db()
    assert (settings.legal_name, settings.city, settings.vat_number) == ("Shop SAS", "Paris", "FR12345678901")
    assert (settings.prefix, settings.days_until_due, settings.default_locale) == ("SHOP", 14, "fr")
    assert bytes(settings.logo) == PNG
    with transaction.atomic():
        assert numbering.number_take(merchant=shop.merchant, livemode=False) == "SHOP-0042"
    page = client.get(url).text
    assert 'value="43"' in page  # the next number, as it now stands
    logo_page = client.get(f"{url.rsplit('/change/', 1)[0]}/logo/")
    assert (logo_page.status_code, logo_page["Content-Type"], logo_page.content) == (200, "image/png", PNG)


def test_bad_input_is_shown_on_the_form_and_nothing_is_written(client, shop, other_shop):
    numbering.invoice_prefix_set(merchant=other_shop.merchant, prefix="TAKEN")
    url, settings = _open(client, shop.owner)
    before = (settings.prefix, settings.legal_name)
    gif = io.BytesIO(b"GIF89a" + b"\0" * 10)
    gif.name = "logo.gif"
    for fields, error in [
        ({"prefix": "TAKEN"}, "already been used"),
        ({"prefix": "a-b"}, "3 to 12 capital letters"),
        ({"logo_file": gif}, "PNG or JPEG"),
        ({"days_until_due": "400"}, "from 0 to 365"),
    ]:
        response = client.post(url, _form(settings, legal_name="Changed", **fields))
        assert response.status_code == 200
        assert error in response.text
        settings.refresh_from_db()
        assert (settings.prefix, settings.legal_name) == before


def test_the_next_number_cannot_be_lowered(client, shop):
    url, settings = _open(client, shop.owner)
    client.post(url, _form(settings, next_number="100"))
    response = client.post(url, _form(settings, next_number="99"))
    assert "can only be raised" in response.text
    assert numbering.next_number(merchant=shop.merchant, livemode=False) == 100


def test_test_and_live_numbers_are_set_separately(client, shop):
    url, settings = _open(client, shop.owner)
    client.post(url, _form(settings, next_number="500"))
    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert 'value="1"' in client.get(url).text
    assert numbering.next_number(merchant=shop.merchant, livemode=True) == 1
    assert numbering.next_number(merchant=shop.merchant, livemode=False) == 500


def test_viewers_and_developers_see_but_cannot_change(client, shop):
    settings = numbering.invoice_settings_for(shop.merchant)
    for role in (Membership.Role.VIEWER, Membership.Role.DEVELOPER):
        url, _ = _open(client, factories.staff(shop.merchant, role))
        client.post(url, _form(settings, legal_name="Hacked", prefix="HACK"))
        settings.refresh_from_db()
        assert settings.legal_name != "Hacked"
        assert settings.prefix != "HACK"


def test_another_merchants_settings_and_logo_are_missing(client, shop, other_shop):
    theirs = numbering.invoice_settings_update(merchant=other_shop.merchant, legal_name="Other SARL", logo=PNG)
    client.force_login(shop.owner)
    assert client.get(f"{PAGE}{theirs.pk}/change/", follow=True).redirect_chain == [("/admin/", 302)]
    assert client.get(f"{PAGE}{theirs.pk}/logo/").status_code == 404
    client.post(f"{PAGE}{theirs.pk}/change/", {"legal_name": "Hacked"})
    theirs.refresh_from_db()
    assert theirs.legal_name == "Other SARL"


def test_platform_staff_see_every_merchants_settings(client, shop, other_shop):
    numbering.invoice_settings_update(merchant=shop.merchant, legal_name="Shop SAS")
    numbering.invoice_settings_update(merchant=other_shop.merchant, legal_name="Other SARL")
    client.force_login(factories.platform_staff())
    listing = client.get(PAGE).text
    assert "Shop SAS" in listing
    assert "Other SARL" in listing


def test_the_settings_menu_links_to_the_page(client, shop):
    client.force_login(shop.owner)
    home = client.get("/admin/").text
    assert home.index(">Settings<") < home.index(PAGE)
